"""local.dialects"""
