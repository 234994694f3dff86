"""A real SMTP server for Panelkeeper's mail tests and benchmark.

aiosmtpd (Debian's python3-aiosmtpd; run with /usr/bin/python3) on
127.0.0.1, storing every accepted message in a Maildir, with behaviours the
tests need, chosen by the recipient's local part:

  reject...@    550 at RCPT (a mailbox that does not exist)
  tempfail...@  451 at RCPT the first time, accepted after
  slowdata...@  451 at the end of DATA the first time, accepted after
  defer...@     451 at RCPT, always
  hold...@      at the end of DATA, writes DIR/held and waits for DIR/release
                before accepting (so a test can act between the message's
                arrival and the server's 250)

Each message stored also adds a line to DIR/peers (not with --discard): the
client's port, so a test can tell how many connections its messages came
over.

Options: --port, --maildir, --tls starttls|tls with --cert and --key (PEM
files: STARTTLS offered and required, or TLS from the first byte), --discard (count accepted messages in
DIR/count instead of storing them: for benchmarks, where the Maildir's own
file operations would dominate), --auth USER:PASSWORD (AUTH PLAIN/LOGIN offered
without TLS, as on a local relay), --delay-ms (wait before accepting each
message, so a test can stop a client mid-queue). Prints "ready PORT" once
listening.
"""

import argparse
import asyncio
import mailbox
import os
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, maildir, delay, discard):
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(maildir, sub), exist_ok=True)
        self.maildir = maildir
        self.box = mailbox.Maildir(maildir, create=True)
        self.discard = discard
        self.count_file = os.path.join(maildir, "count")
        self.count = 0
        self.delay = delay
        self.seen = set()

    def first_time(self, key):
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 No such mailbox here"
        if local.startswith("defer"):
            return "451 4.3.0 Try again later"
        if local.startswith("tempfail") and self.first_time(("rcpt", address)):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        for rcpt in envelope.rcpt_tos:
            if rcpt.split("@")[0].lower().startswith("slowdata") and self.first_time(("data", rcpt)):
                return "451 4.7.1 Greylisted, come back later"
        if any(r.split("@")[0].lower().startswith("hold") for r in envelope.rcpt_tos):
            held = os.path.join(self.maildir, "held")
            release = os.path.join(self.maildir, "release")
            open(held, "w").close()
            while not os.path.exists(release):
                await asyncio.sleep(0.02)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        if self.discard:
            self.count += 1
            with open(self.count_file, "w") as f:
                f.write(str(self.count))
        else:
            self.box.add(content)
            with open(os.path.join(self.maildir, "peers"), "a") as f:
                f.write(f"{session.peer[1]}\n")
        return "250 2.0.0 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--auth")
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--discard", action="store_true")
    parser.add_argument("--tls", choices=["starttls", "tls"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()

    handler = Handler(args.maildir, args.delay_ms / 1000, args.discard)
    kwargs = {}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            return AuthResult(success=ok, handled=False)

        kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        if args.tls == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port,
                            decode_data=False, enable_SMTPUTF8=True, **kwargs)
    controller.start()
    print(f"ready {args.port}", flush=True)

    def on_signal(*_):
        controller.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.pause()


if __name__ == "__main__":
    main()
