"""Delivering the report by e-mail: SMTP with STARTTLS, settings from CONTACTMON_SMTP_*.

`SmtpSettings` is the one place these settings are defined (pydantic-settings; every field is an
environment variable `CONTACTMON_SMTP_` + its name in capitals). The password is a `SecretStr`:
masked in every repr, never logged, and only ever sent after STARTTLS has encrypted the
connection. `load_smtp_settings` reports a bad or missing variable by name, never by value.

`send_report` writes one message: a short Dutch text (the summary) with the report files
attached, to every recipient, over one connection.
"""

from __future__ import annotations

import mimetypes
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from pydantic import Field, FilePath, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SMTP_PREFIX = "CONTACTMON_SMTP_"


class MailError(Exception):
    """The report cannot be mailed; the message says why (never with a password)."""


class SmtpSettings(BaseSettings):
    """Where and how to mail the report. Environment: CONTACTMON_SMTP_<FIELD>."""

    model_config = SettingsConfigDict(
        env_prefix=SMTP_PREFIX, env_ignore_empty=True, extra="ignore", frozen=True
    )

    host: str = Field(description="the SMTP server (the organisation's mail relay)")
    port: int = Field(default=587, ge=1, le=65535, description="the submission port")
    starttls: bool = Field(
        default=True,
        description="switch to TLS with STARTTLS before anything else; off only for a relay "
        "on the same host, and never together with a password",
    )
    username: str | None = Field(default=None, description="the SMTP login; unset: no login")
    password: SecretStr | None = Field(
        default=None, description="the SMTP password; from a secret store, never in a manifest"
    )
    sender: str = Field(
        alias="CONTACTMON_SMTP_FROM", description="the From address, e.g. rapportage@bucz.nl"
    )
    to: str = Field(description="the recipients, comma-separated")
    cafile: FilePath | None = Field(
        default=None, description="a CA certificate (PEM) for the server; unset: the system's"
    )
    timeout: float = Field(default=30.0, gt=0, description="seconds per SMTP step")

    @model_validator(mode="after")
    def _sane(self) -> SmtpSettings:
        if not self.recipients:
            raise ValueError("CONTACTMON_SMTP_TO names no recipient")
        if self.password is not None and self.username is None:
            raise ValueError("CONTACTMON_SMTP_PASSWORD is set without CONTACTMON_SMTP_USERNAME")
        if self.username is not None and not self.starttls:
            raise ValueError(
                "CONTACTMON_SMTP_STARTTLS=false with a login would send the password in clear"
            )
        return self

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.to.split(",") if a.strip()]


def load_smtp_settings(environ: Mapping[str, str] | None = None) -> SmtpSettings:
    """The SMTP settings from `environ` (default: the process environment), or MailError."""
    try:
        if environ is None:
            return SmtpSettings()  # type: ignore[call-arg]  # pydantic-settings fills them in
        values: dict[str, Any] = {}
        for name, field in SmtpSettings.model_fields.items():
            key = field.alias or f"{SMTP_PREFIX}{name.upper()}"
            if environ.get(key):
                values[field.alias or name] = environ[key]
        return SmtpSettings.model_validate(values)
    except ValidationError as error:
        problems = []
        for detail in error.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in detail["loc"])
            known = SmtpSettings.model_fields.get(where)
            name = (known.alias if known is not None else None) or (
                f"{SMTP_PREFIX}{where.upper()}" if where else "the SMTP settings"
            )
            if detail["type"] == "missing":
                problems.append(f"{name} is not set")
            else:
                problems.append(f"{name}: {detail['msg']}")
        raise MailError("e-mail settings: " + "; ".join(problems)) from None


def build_message(
    settings: SmtpSettings, subject: str, body: str, attachments: Sequence[Path]
) -> EmailMessage:
    """The message: plain text body and every file attached under its own name."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(body)
    for path in attachments:
        kind, _ = mimetypes.guess_type(path.name)
        maintype, _, subtype = (kind or "application/octet-stream").partition("/")
        if maintype == "text":  # the HTML report: UTF-8, said so, so every client reads it right
            message.add_attachment(
                path.read_text("utf-8"), subtype=subtype, charset="utf-8", filename=path.name
            )
        else:
            message.add_attachment(
                path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
            )
    return message


def send_report(
    settings: SmtpSettings, subject: str, body: str, attachments: Sequence[Path]
) -> list[str]:
    """Mail `attachments` to every recipient; return the recipients. Raises MailError."""
    message = build_message(settings, subject, body, attachments)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                context = ssl.create_default_context(
                    cafile=str(settings.cafile) if settings.cafile else None
                )
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.username is not None:
                password = settings.password.get_secret_value() if settings.password else ""
                smtp.login(settings.username, password)
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"the SMTP server {settings.host}:{settings.port} refused the login of "
            f"{settings.username!r} ({exc.smtp_code})"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(
            f"the SMTP server {settings.host}:{settings.port} does not offer "
            f"{'STARTTLS' if settings.starttls else 'what was asked'}: {exc}"
        ) from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise MailError(
            f"cannot mail the report via {settings.host}:{settings.port}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return [r for r in settings.recipients if r not in refused]
