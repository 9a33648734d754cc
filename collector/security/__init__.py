"""Security: the certificate authority, certificate roles and what each role may call."""
