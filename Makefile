# ispa-cert: install, set-up, demo, tests and benchmarks. Run as root on Debian.
#   make install     production: ispa-cert in $(PREFIX), the command /usr/local/sbin/ispa-cert
#   make uninstall   remove what make install added (asks before touching /etc/crontab)
#   make demo        development set-up, then issue certificates in a sandbox (local Pebble + Apache)
#   make test        development set-up, then run the whole test suite
#   make bench       development set-up, then run the benchmarks
#   make dev         development set-up only: .venv/ with the test tools, the test stack's packages
#   make messages    extract the messages into the template, update the catalogues (then translate)

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Debian packages ispa-cert runs (Apache is already on the server it manages) ...
RUNTIME_PACKAGES := curl openssl ca-certificates cron iproute2 logrotate debian-archive-keyring
# ... and what development and the tests add: a local Apache and man to read ispa-cert(8). The test CA
# (Pebble) is not among them: install-test-stack fetches its pinned package into .cache/pebble/
# (vendor/pebble/pin.lock), like acme.sh, and the previous acme.sh (tests/pins/) for the upgrade test.
APT_PACKAGES := $(RUNTIME_PACKAGES) apache2 man-db

# Where make install puts things (make install PREFIX=/srv/ispa-cert ...).
PREFIX        ?= /usr/local/lib/ispa-cert
SBINDIR       ?= /usr/local/sbin
MANDIR        ?= /usr/local/share/man
COMPLETIONDIR ?= /usr/local/share/bash-completion/completions
LOGROTATEDIR  ?= /etc/logrotate.d
# Command line only, never from the environment: make install ROOT=DIR puts all of it under
# a scratch directory (tests); make uninstall CRON=remove|keep answers its crontab question.
ROOT :=
CRON :=
LAYOUT := PREFIX='$(PREFIX)' SBINDIR='$(SBINDIR)' MANDIR='$(MANDIR)' COMPLETIONDIR='$(COMPLETIONDIR)' \
          LOGROTATEDIR='$(LOGROTATEDIR)' ROOT='$(ROOT)' PYTHON='$(PYTHON)'

.PHONY: install uninstall dev install-system install-python install-acme install-test-stack catalogues messages demo test test-unit test-e2e bench clean

# --- production -------------------------------------------------------------------------------

install: PACKAGES = $(RUNTIME_PACKAGES)
install: install-system install-acme
	@$(LAYOUT) dist/install

uninstall:
	@$(LAYOUT) CRON='$(CRON)' dist/uninstall

# --- development and CI -------------------------------------------------------------------------

dev: PACKAGES = $(APT_PACKAGES)
dev: install-system install-python catalogues install-acme install-test-stack

# apt-get only for what is missing; a policy-rc.d stops apt from starting the system Apache on :80.
install-system:
	@missing=""; for p in $(or $(PACKAGES),$(APT_PACKAGES)); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  guard=""; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; guard=1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null; rc=$$?; \
	  [ -n "$$guard" ] && rm -f /usr/sbin/policy-rc.d; \
	  exit $$rc; \
	fi

install-python: $(BIN)/ispa-cert

$(BIN)/ispa-cert: pyproject.toml
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 \
	  | { grep -v '^WARNING: Location' || true; }
	@touch $@

install-acme:
	@vendor/fetch-acme

# The message catalogues (ispa_acmewrap/i18n.py): English source strings are the msgids; each .po
# is compiled to the .mo gettext reads. make install compiles them into the installed package
# through the package build (setup.py); here they are compiled in place for .venv's editable install.
LOCALE     := ispa_acmewrap/locale
DOMAIN     := ispa-cert
CATALOGUES := $(wildcard $(LOCALE)/*/LC_MESSAGES/$(DOMAIN).po)

catalogues: $(CATALOGUES:.po=.mo)

$(LOCALE)/%.mo: $(LOCALE)/%.po $(BIN)/ispa-cert
	@$(BIN)/pybabel -q compile -D $(DOMAIN) -i $< -o $@

# After changing messages: update the catalogues, translate what is new or fuzzy in cs.po
# (tests/unit/test_catalogues.py says what is missing), then make catalogues.
messages: $(BIN)/ispa-cert
	@$(BIN)/pybabel -q extract --project=ispa-cert --add-location=file --sort-by-file \
	  --add-comments=TRANSLATORS: -o $(LOCALE)/$(DOMAIN).pot ispa_acmewrap
	@$(BIN)/pybabel -q update -D $(DOMAIN) -i $(LOCALE)/$(DOMAIN).pot -d $(LOCALE) --ignore-obsolete --ignore-pot-creation-date

install-test-stack:
	@vendor/fetch-deb vendor/pebble/pin.lock .cache/pebble
	@vendor/fetch-deb tests/pins/acme.sh-3.1.1.lock .cache/acme.sh-3.1.1

demo: dev
	@$(BIN)/python -m tests.demo

# pytest exits 5 when it collected no test: that is a failure here, said plainly.
# The end-to-end tests mostly wait (acme.sh sleeps between polls), so 4 workers pay off even on
# 2 cores; each test file stays on one worker (--dist loadfile), so a file's shared stack starts once.
PYTEST_WORKERS ?= 4
test: dev
	@$(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-unit: dev
	@$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

bench: dev
	@$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .cache build *.egg-info $(LOCALE)/*/LC_MESSAGES/*.mo $(LOCALE)/$(DOMAIN).pot
	find vendor/acme.sh -mindepth 1 -maxdepth 1 ! -name pin.lock ! -name README.md -exec rm -rf {} +
