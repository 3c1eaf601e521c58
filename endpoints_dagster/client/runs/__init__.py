"""client.runs"""
