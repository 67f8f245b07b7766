r"""The prose of `--help`: the program's and each command's description, examples, exit codes,
each option's help. Plain text, no typer: overview.py prints the top-level help from it alone.

cli.py declares the commands and options.py the options; the texts live here so that the
command table stays readable.
The first paragraph of each text is the command's one-line summary in the top-level list;
a paragraph after a line holding only "\b" keeps its line breaks (Examples).
"""

from __future__ import annotations

from .i18n import N_, _


EXIT_MEANINGS = {
    0: N_("success"), 1: N_("failed and rolled back"), 2: N_("bad input or usage (nothing changed)"),
    3: N_("precondition missing"), 4: N_("rate-limited (wait)"), 5: N_("locked by another run"),
    6: N_("rollback failed (manual action needed)"), 70: N_("unexpected error"), 130: N_("interrupted"),
}


def exit_codes(*codes: int) -> str:
    """The epilog naming exactly the exit codes a command can return (README "Exit codes")."""
    return _("Exit codes: {codes}.").format(codes=", ".join(str(code) + " " + _(EXIT_MEANINGS[code])
                                                          for code in codes))


# Every changing command can also meet a usage error (2), the lock (5), an unexpected error (70), Ctrl-C (130).
APACHE_CHANGE = exit_codes(0, 1, 2, 3, 4, 5, 6, 70, 130)  # talks to the CA and changes Apache
CHANGE = exit_codes(0, 1, 2, 3, 5, 70, 130)  # changes files, never Apache's configuration
RESTORE = exit_codes(0, 1, 2, 3, 5, 6, 70, 130)
READ = exit_codes(0, 2, 3, 70, 130)  # reads only; 3 when the state cannot be read (e.g. not root)

PROGRAM = _("""Let's Encrypt certificates for the web interfaces of an ISPadmin server.

Checks DNS and port 80 before the CA is asked, issues certificates with acme.sh
over HTTP-01, installs them into Apache with a backup (rolled back if Apache
rejects the change) and renews them from /etc/crontab.

\b
Typical first run:  ispa-cert issue -a -c

Coming from certificate.pl? Run `ispa-cert status` and `ispa-cert doctor` first:
both change nothing, and show what the old set-up left and what will be
taken over (README, "Coming from certificate.pl").
""")

INSTALL = _("""Install acme.sh from vendor/ into /data/ispadmin_cert/acme (no network needed).

`issue` does this on demand; run it by hand to check the set-up.

\b
Example:
  ispa-cert install --email admin@example.net
""")

ISSUE = _("""Get certificates for the chosen interfaces and install them into Apache.

The guided flow: ask the domain names (or take them from options), check
their DNS against this server's addresses, make sure Apache answers HTTP-01
challenges (temp_isp.conf for names without a virtual host), test port 80
the way the CA will, issue with acme.sh, install into Apache with a backup,
and add the renewal entry to /etc/crontab.

Each acme.sh run against the CA may take ISPA_CA_TIMEOUT seconds (default 600).
Ctrl-C or SIGTERM rolls back what the run changed (exit 130).

Before the CA is asked, Apache's configuration is read as it will be with
mod_ssl on: each name's HTTPS vhost is copied from its own port-80 vhost
(rules that redirect to https:// are left out and shown), an existing SSL
vhost of the name gets only its certificate lines changed, and anything that
would shadow or break it refuses the name, naming the file and line. A name
with neither a port-80 nor an SSL vhost of its own needs
--admin/--client/--dealer-docroot. The diff of
every file ispa-cert did not write alone is shown before the install question.
With --yes it goes on only when every DNS record is right (otherwise exit 3).

\b
Examples:
  ispa-cert issue -a -c                      asks for the names, as the guide does
  ispa-cert issue -a -c --redirect --hsts    and send every visitor to HTTPS
  ispa-cert issue -a -c --admin-domain isp.example.net \\
      --client-domain klient.example.net --yes              unattended
  ispa-cert issue -d --dealer-domain dealer.example.net \\
      --server-ip 203.0.113.7                               behind NAT
""")

RENEW = _("""Renew the certificates that are due, as the CA's renewal window (ARI) or their lifetime says.

Renewed are the certificates of the names on record and every certificate Apache serves
from /data/ispadmin_cert (what the guide's --renewAll renewed), each in its own acme.sh
layout: RSA stays RSA. For each certificate the CA's suggested renewal window (ARI, RFC 9773)
is read (again only after the CA's Retry-After); the certificate is due at a moment chosen at
random inside the window, at once when the CA moved the window into the past (its explanation
is shown), and never later than 2/3 of its own lifetime: day 60 of a 90-day certificate, day
30 of a 45-day one, day 4 of a 6-day one. Without ARI, or when the CA cannot be reached, the
2/3 rule decides. Each due certificate is renewed with acme.sh --renew (which names the
certificate it replaces) and Apache reloaded; then ispa-cert checks that Apache serves the new
certificate. A name that failed validation 5 times in the last hour is not sent to the CA
(exit 4 says when to try again). Shows the next renewal date of every certificate. A run
that finds another one holding the lock waits up to ISPA_LOCK_WAIT seconds (default 30),
then exits 5. Each acme.sh run may take ISPA_CA_TIMEOUT seconds (default 600); a CA that
cannot be reached or answers with an error is named and never counts as a failed validation.

\b
Examples:
  ispa-cert renew              renew what is due
  ispa-cert renew --force      renew every certificate now
  ispa-cert renew --cron       what the /etc/crontab entry runs
""")

CRON = _("Manage the one /etc/crontab entry that runs `ispa-cert renew --cron`.")

CRON_INSTALL = _("""Add the entry that runs `ispa-cert renew --cron`, or bring it up to date.

The guide's `acme.sh --renewAll ... #letsencrypt renew` line is replaced, not
duplicated; every other byte of /etc/crontab stays as it was. Running it twice
leaves one entry. Daily runs cost nothing: renew is silent when nothing is due.
Daily is enough down to 6-day certificates, since renewal is due at 2/3 of the lifetime.
It is replaced only when ispa-cert renews every certificate it renewed. Other
acme.sh renewal jobs (/etc/cron.d/, root's crontab) are offered for disabling:
commented out, byte for byte otherwise, with a backup. With --yes they are
disabled, and nothing is adopted without --adopt.

\b
Examples:
  ispa-cert cron install
  ispa-cert cron install --schedule "00 05 * * 7"    the guide's Sunday 05:00
  ispa-cert cron install --update-only
  ispa-cert cron install --adopt --yes     take over every certificate the old job renewed
""")

CRON_REMOVE = _("""Remove the entry (every other line of /etc/crontab stays as it was).

\b
Examples:
  ispa-cert cron remove
  ispa-cert cron remove --legacy    also the guide's `#letsencrypt renew` line
""")

CRON_SHOW = _("""Show the entry (and a leftover legacy line) and whether it is current.

\b
Example:
  ispa-cert cron show
""")

UPGRADE = _("""Install the vendored acme.sh when it is newer than the installed one.

The ACME account and the certificates are kept. An installed acme.sh whose
version cannot be read is left alone (`ispa-cert install` replaces it). Says
which version was and is installed. The guide's advice when renewal keeps failing.

\b
Examples:
  ispa-cert upgrade
  ispa-cert upgrade --online
""")

REPAIR = _("""Reinstall acme.sh from scratch, as the guide's last resort, without losing anything.

Archives /root/.acme.sh, /root/acme.sh and /data/ispadmin_cert/acme into a
tarball (mode 0600) in /data/ispadmin_cert/backups, removes them, installs
acme.sh from vendor/ and puts the ACME account back (unless --new-account).
The installed certificates and Apache keep working throughout. --yes does not
ask; answering no changes nothing and exits 0. --server-ip is for the DNS
check of --reissue.

\b
Examples:
  ispa-cert repair
  ispa-cert repair --reissue --yes
""")

STATUS = _("""Show the certificates: issuer, key, validity, next renewal, and whether Apache serves each.

One row per name on record (and any other certificate acme.sh holds): key, expiry, days
left, renewal and whether it is served, in 100 columns; --wide adds the issuer, profile,
lifetime and the CA's renewal window, with times. Times are UTC; "renewal at" is the moment
chosen inside the CA's renewal window (ARI) as the last issue or renew read it, else 2/3 of
the lifetime ("no ARI"). A line below
the table names a certificate the CA wants replaced early, with its explanation. Whether
Apache serves exactly this certificate is checked over the network on the HTTPS port.
Below the table: the TLS profile the HTTPS virtual hosts use, the redirect, HSTS, and
whether Apache can serve HTTP/2. Changes nothing (an interrupted Apache change is only
reported). Exit status 0 whenever it could look, also when there is no certificate yet
(monitoring: use `ispa-cert doctor`).

\b
Examples:
  ispa-cert status
  ispa-cert status --wide
  ispa-cert status --json | jq -r '.certificates[] | "\\(.name) \\(.days_left)"'
""")

DOCTOR = _("""Check everything renewals depend on; a monitoring plugin (Nagios, Icinga, Zabbix).

The ISPadmin guide's troubleshooting list, checked instead of asked: Apache running
and listening on the HTTP and HTTPS ports; each name's DNS; the port-80 self-test;
the cron entry; acme.sh installed, its version, the CA (Let's Encrypt) and the
account; each certificate's expiry and renewal; Apache serving the certificate on
disk; OCSP stapling switched on (Let's Encrypt ended OCSP); mod_http2 and the MPM;
a temp_isp.conf left behind; an interrupted change; recent failed validations
and the CA's rate limit; the last successful renewal. Each check is OK, WARN, CRIT
or UNKNOWN, with the fix when it is not OK. Takes no lock and changes nothing.

The first line is the plugin line: `ISPA-CERT OK|WARNING|CRITICAL|UNKNOWN - summary
| perfdata`, with days left per name as perfdata ('NAME'=DAYSd;WARN:;CRIT:).

\b
Examples:
  ispa-cert doctor
  ispa-cert doctor --offline                  # quick, no network
  ispa-cert doctor --name isp.example.net --json
  ispa-cert doctor --server-ip 203.0.113.7    # behind NAT
""")

DOCTOR_EXITS = _("""Exit status (monitoring-plugin convention, not the table of the other commands):
0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also when doctor itself cannot run or an option is wrong).
""")

BACKUPS = _("List and restore the backups made before every Apache change.")

BACKUPS_LIST = _("""List the backups, newest first: id, when, why, and the files each holds.

Changes nothing; an interrupted Apache change is only reported.

\b
Example:
  ispa-cert backups list
""")

BACKUPS_RESTORE = _("""Put the Apache files of a backup back, then configtest and reload.

ID is the backup to restore (`ispa-cert backups list` shows them); default: the newest.
The current files are backed up first, so a restore can itself be undone.
If Apache rejects the restored configuration, the current one is put back.
Answering no to the question changes nothing and exits 0.

\b
Example:
  ispa-cert backups restore 20250302-051307
""")

# Each option's help, by its long name (cli.py's `_option` looks it up).
OPTION = {
    "--root": _("Prefix of every system path (/etc, /data, /var, /run). Default: /. Tests and the demo use "
              "a sandbox directory (env ISPA_ROOT)."),
    "--verbose": _("Show every command run and its output."),
    "--version": _("Show the version and exit."),
    "--lang": _("Language of the messages (default: from LC_ALL, LC_MESSAGES, LANG). --json, the crontab line "
                "and the log stay English."),
    "--yes": _("Answer every question with its safe default, for unattended runs (the description says "
             "what that is)."),
    "--email": _("Contact e-mail for the ACME account (optional)."),
    "--server-ip": _("A public address of this server (repeatable); needed behind NAT, where the public "
                   "address is not on an interface."),
    "--dns-server": _("Resolver to ask for the DNS check (default: the system's; env ISPA_DNS_SERVER)."),
    "--dns-timeout": _("Time limit of each DNS query and of the port-80 self-test (default 4)."),
    "--json": _("Print one JSON document instead of the text."),
    "--wide": _("Add issuer, profile, lifetime and the CA's renewal window (wider than 100 columns)."),
    "--admin": _("Certificate for the ISPadmin administration interface."),
    "--client": _("Certificate for the client portal."),
    "--dealer": _("Certificate for the dealer portal."),
    "--admin-domain": _("Domain of the administration interface (instead of asking)."),
    "--client-domain": _("Domain of the client portal (instead of asking)."),
    "--dealer-domain": _("Domain of the dealer portal (instead of asking)."),
    "--admin-docroot": _("Document root of the administration interface, when no virtual host of its own "
                       "serves its name on port 80 or 443 (remembered for that name)."),
    "--client-docroot": _("Document root of the client portal, when no virtual host of its own serves its "
                        "name on port 80 or 443 (remembered for that name)."),
    "--dealer-docroot": _("Document root of the dealer portal, when no virtual host of its own serves its "
                        "name on port 80 or 443 (remembered for that name)."),
    "--skip-dns-check": _("Look up the names but do not stop on wrong records (experts: a wrong record then "
                        "fails at the CA and counts against its limits)."),
    "--ignore-self-test": _("Send names to the CA even when the port-80 self-test failed."),
    "issue --force": _("Issue a new certificate even when the current one is not due."),
    "--redirect/--no-redirect": _("Send port-80 requests for every name with a certificate to HTTPS (HTTP-01 "
                                "challenges excepted), or stop doing so (which also stops HSTS). The redirect "
                                "answers 308, so a POST stays a POST. Default: keep the current setting."),
    "--hsts/--no-hsts": _("Send HSTS (Strict-Transport-Security, max-age two years) on the HTTPS virtual hosts; "
                        "only together with --redirect. Remembered; default: off."),
    "--tls-profile": _("Mozilla's TLS profile for the HTTPS virtual hosts: intermediate (TLS 1.2 and 1.3, for "
                     "every browser of the last ten years) or modern (TLS 1.3 only). Remembered; default: "
                     "intermediate."),
    "--profile": _("The CA's certificate profile, e.g. Let's Encrypt's classic (90 days; 64 from 2027-02-10), "
                 "tlsserver (45 days) or shortlived (6 days). Checked against the profiles the CA offers; "
                 "remembered per name and kept on renewal. A name that changes profile gets a new "
                 "certificate. Default: the one remembered, else the CA's default."),
    "--key-type": _("Key of the new certificates: ec (ECDSA P-256) or rsa (RSA 2048). Default: the key the "
                  "name's certificate has (an RSA certificate from certificate.pl stays RSA), ec for a new name."),
    "renew --force": _("Renew every certificate now, due or not."),
    "--cron": _("For /etc/crontab: no questions, all output to the log; silent when nothing is due, one "
              "summary line otherwise, errors on stderr (so cron mails only news and trouble)."),
    "--schedule": _("When to run, in crontab syntax. Default: daily at 05:MM with a random minute chosen once "
                  "and kept (the CA asks clients to spread their load), more often when the shortest "
                  "certificate lifetime on record needs it (two attempts within its last third); an existing "
                  "entry keeps its schedule unless it is too sparse for that. @reboot and schedules that never "
                  "run are refused; a given schedule that is too sparse is kept with a warning."),
    "--update-only": _("Only point an existing entry at this installation's command, keeping its schedule; add "
                     "none and leave every other line alone (what `make install` runs when ispa-cert is "
                     "upgraded)."),
    "--adopt": _("Also renew the certificates the old renewal job renews that no interface uses and Apache "
               "does not serve (otherwise the takeover is refused, naming them)."),
    "--legacy": _("Also remove the guide's acme.sh --renewAll line."),
    "--online": _("Run acme.sh's own --upgrade instead: downloads its development branch from GitHub (needs "
                "internet)."),
    "--reissue": _("Then issue the certificates again for the names on record (refused when the CA's 5 "
                 "certificates per name and week are used up)."),
    "--new-account": _("Do not put the ACME account back; acme.sh registers a new one at the next issuance."),
    "--name": _("Check only this name (repeatable); default: every name on record."),
    "--offline": _("Skip the network checks (DNS, port-80 self-test, the certificate Apache serves): local "
                 "files and processes only, interactive speed."),
}


def summary(text: str) -> str:
    """A command's one-line summary in the top-level list: its whole first paragraph."""
    return " ".join(text.split("\n\n")[0].split())


# The commands of the top-level list, in its order (overview.py prints it without typer).
COMMANDS = (("install", INSTALL), ("issue", ISSUE), ("renew", RENEW), ("upgrade", UPGRADE), ("repair", REPAIR),
            ("status", STATUS), ("doctor", DOCTOR), ("cron", CRON), ("backups", BACKUPS))
