"""SSH key pairs (``/keypairs``): made here (the private key shown once) or imported; a VM launched
with ``key_name`` gets the public key in root's ``authorized_keys``."""
