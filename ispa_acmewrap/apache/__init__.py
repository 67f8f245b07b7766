"""Everything ispa-cert knows and writes about Apache; nothing else parses Apache files.

- model:  which vhost serves which name on which address and port, from which file and
          line, as Apache loads the configuration with mod_ssl on (apache2ctl's own dump);
- conf:   reading files as Apache does (continued lines, sections, Include);
- plan:   what the HTTPS side of each name will be, or why the name is refused;
- editor: change one directive in someone else's file, keep every other byte;
- render: our own text (ispa-cert's block of the include, temp_isp.conf) and ctl argv.
"""

from .model import (VirtualHost, certificate_file_served, default_vhost, dump_command, find_vhost,  # noqa: F401
                    parse_virtual_hosts, ssl_configtest_command, vhosts_for)
from .render import *  # noqa: F401,F403
from .render import _RAW_PATH, _render_redirect, _render_ssl_vhost  # noqa: F401
