"""local.storage"""
