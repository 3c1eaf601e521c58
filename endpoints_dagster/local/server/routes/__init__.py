"""local.server.routes"""
