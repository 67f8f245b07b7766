"""Everything ispa-cert knows and writes about Apache (a package from here on)."""

from .render import *  # noqa: F401,F403
from .render import _render_redirect, _render_ssl_vhost  # noqa: F401
