"""E-mail notifier: the standard library's smtplib in a worker thread (asyncio.to_thread),
with STARTTLS or SMTPS and optional login. One message per notification, plain text plus an
HTML alternative, to every recipient.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from infersight.alerting.delivery import RetryPolicy
from infersight.alerting.notifier_base import NotificationView, NotifierError
from infersight.alerting.notifier_format import email_html, email_subject, email_text

log = logging.getLogger(__name__)


def build_message(
    notification: NotificationView,
    *,
    from_addr: str,
    to_addrs: Sequence[str],
    subject_prefix: str,
) -> EmailMessage:
    """The e-mail for one notification: subject = prefix + headline; text and HTML parts."""
    msg = EmailMessage()
    msg["Subject"] = email_subject(notification, subject_prefix)
    msg["From"] = from_addr
    msg["To"] = ", ".join(to_addrs)
    msg["Date"] = formatdate(notification.at, localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=from_addr.rpartition("@")[2] or None)
    msg["X-Infersight-Rule"] = " ".join(notification.rule.split())
    msg["X-Infersight-State"] = notification.state
    msg.set_content(email_text(notification))
    msg.add_alternative(email_html(notification), subtype="html")
    return msg


class EmailNotifier:
    """Sends each notification by SMTP. `ssl_context` defaults to the system's trusted CAs."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        from_addr: str,
        to_addrs: Sequence[str],
        starttls: bool = True,
        use_ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        subject_prefix: str = "[infersight]",
        retry: RetryPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not to_addrs:
            raise ValueError(f"email notifier {name!r}: to_addrs is empty")
        self.name = name
        self.host = host
        self.port = port
        self.from_addr = from_addr
        self.to_addrs = list(to_addrs)
        self.starttls = starttls and not use_ssl
        self.use_ssl = use_ssl
        self.username = username
        self._password = password
        self.subject_prefix = subject_prefix
        self.retry = retry or RetryPolicy()
        self._ssl_context = ssl_context

    async def send(self, notification: NotificationView) -> None:
        msg = build_message(
            notification,
            from_addr=self.from_addr,
            to_addrs=self.to_addrs,
            subject_prefix=self.subject_prefix,
        )
        await asyncio.to_thread(self._send_sync, msg)

    def _where(self) -> str:
        return f"email {self.name!r}: SMTP {self.host}:{self.port}"

    def _send_sync(self, msg: EmailMessage) -> None:
        context = self._ssl_context or ssl.create_default_context()
        timeout = self.retry.timeout_s
        where = self._where()
        try:
            smtp: smtplib.SMTP
            if self.use_ssl:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
            with smtp:
                if self.starttls:
                    smtp.starttls(context=context)
                if self.username is not None:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(msg, self.from_addr, self.to_addrs)
        except smtplib.SMTPNotSupportedError as exc:
            if "STARTTLS" in str(exc):
                fix = "set ssl: true for an SMTPS port, or starttls: false for a plain relay"
            else:
                fix = "remove username/password if it needs no login, or use TLS (servers "
                fix += "often offer AUTH only after STARTTLS)"
            raise NotifierError(f"{where}: {exc} ({fix})") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifierError(
                f"{where}: login as {self.username!r} refused ({exc.smtp_code} "
                f"{_text(exc.smtp_error)}); check username and password"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifierError(
                f"{where}: every recipient refused: {', '.join(sorted(exc.recipients))}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise NotifierError(f"{where}: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except ssl.SSLError as exc:
            raise NotifierError(f"{where}: TLS failed ({exc.reason or exc})") from exc
        except TimeoutError as exc:
            raise NotifierError(f"{where}: no answer within {timeout:g} s") from exc
        except ConnectionRefusedError as exc:
            raise NotifierError(
                f"{where}: connection refused; is the SMTP server running and the port right?"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifierError(f"{where}: {type(exc).__name__}: {exc}") from exc
        if refused:
            log.warning(
                "%s: some recipients refused the message: %s",
                where,
                ", ".join(f"{addr} ({code})" for addr, (code, _) in sorted(refused.items())),
            )

    def __repr__(self) -> str:  # never shows the password
        return (
            f"EmailNotifier(name={self.name!r}, host={self.host!r}, port={self.port}, "
            f"to={self.to_addrs!r})"
        )


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
