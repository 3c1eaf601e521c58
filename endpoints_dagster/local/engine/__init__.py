"""local.engine"""
