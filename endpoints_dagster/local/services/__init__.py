"""local.services"""
