"""`make demo`: the main job on an embedded default, in a sandbox.

Starts a local Let's Encrypt stand-in (Pebble), a DNS server that points the demo
names at 127.0.0.1 (pebble-challtestsrv) and an Apache instance set up like an
ISPadmin server, all on loopback; runs `ispa-cert issue -a -c`, then `status`,
then proves over HTTPS that Apache serves the new certificates; stops what it
started and removes the sandbox (DEMO_KEEP=1 keeps the sandbox for a look).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from cryptography import x509

from tests.conftest import ispa_cert_executable
from tests.factories import ADMIN, PORTAL
from tests.stack import Stack, StackError



def banner(text: str) -> None:
    print(f"\n\033[1m### {text}\033[0m" if sys.stdout.isatty() else f"\n### {text}", flush=True)


def run_tool(stack: Stack, *args: str) -> int:
    command = [ispa_cert_executable(), *args]
    print("$ ispa-cert " + " ".join(args), flush=True)
    return subprocess.run(command, env={**os.environ, **stack.tool_env()}, stdin=subprocess.DEVNULL).returncode


def https_proof(stack: Stack, name: str) -> bool:
    der, response = stack.https_get(name)
    served = x509.load_der_x509_certificate(der)
    on_disk = x509.load_pem_x509_certificate(stack.paths.live(name).cert.read_bytes())
    status_line = response.split(b"\r\n", 1)[0].decode()
    same = served.fingerprint(served.signature_hash_algorithm) == on_disk.fingerprint(on_disk.signature_hash_algorithm)
    print(f"https://{name}:{stack.apache.https_port}/  ->  {status_line}")
    print(f"    verified against the test CA's root; subject {served.subject.rfc4514_string()}, "
          f"issuer {served.issuer.rfc4514_string()}")
    print(f"    serial {served.serial_number:X}, valid until {served.not_valid_after_utc:%Y-%m-%d}; "
          f"{'the same certificate as' if same else 'DIFFERENT from'} {stack.paths.live(name).cert}")
    return same and status_line.startswith("HTTP/1.1 200")


def main() -> int:
    banner("Starting the sandbox: Pebble (test CA), pebble-challtestsrv (DNS), Apache as an ISPadmin server")
    try:
        stack = Stack.start()
    except StackError as error:
        print(f"demo: the test stack could not start: {error}", file=sys.stderr)
        return 1
    print(f"sandbox root {stack.root}; Apache on 127.0.0.1:{stack.apache.http_port} (HTTP) and "
          f":{stack.apache.https_port} (HTTPS); CA {stack.pebble.directory_url}")
    try:
        banner("ispa-cert issue -a -c  (unattended: the names and --yes given as options)")
        code = run_tool(stack, "issue", "-a", "-c", "--admin-domain", ADMIN, "--client-domain", PORTAL,
                        "--server-ip", "127.0.0.1", "--yes")
        if code != 0:
            print(f"demo: ispa-cert issue failed with exit code {code}", file=sys.stderr)
            return 1
        banner("ispa-cert status")
        run_tool(stack, "status")
        banner("Proof: HTTPS requests through Apache")
        proven = all([https_proof(stack, ADMIN), https_proof(stack, PORTAL)])
        print("\ndemo: done — Apache serves the newly issued certificates." if proven
              else "\ndemo: Apache does NOT serve the new certificates", flush=True)
        return 0 if proven else 1
    finally:
        stack.stop()
        if os.environ.get("DEMO_KEEP"):
            print(f"sandbox kept in {stack.root}")
        else:
            shutil.rmtree(stack.root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
