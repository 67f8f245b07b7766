"""ispa-cert: Let's Encrypt certificates for an ISPadmin server, through acme.sh and Apache."""

__version__ = "0.1.0"
