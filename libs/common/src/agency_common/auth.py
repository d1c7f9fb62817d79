"""Users, permissions and signed tokens.

Users and their groups come from a configuration file (YAML); each group grants permissions
named after the seeds (``statements:import``, ``individuals:edit`` ...; ``*`` grants all).
Passwords are hashed with argon2 (pwdlib). A login opens a session: a short-lived access token
(the user's permissions in it) and a refresh token that is rotated at each use and re-reads the
user from the file, so a removed user or changed groups take effect at the next refresh. Tokens
are EdDSA (Ed25519) JWTs with a ``kid``: a service holding only the public keys verifies them,
locally. Logging out revokes the tokens by id on a deny list every instance reads from Kafka
(``agency_common.token_revocations``). The dashboard keeps the tokens in HttpOnly cookies, the
refresh token's on ``/auth`` only (docs/SECURITY.md, V3).
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, HTTPException, Request, status
from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError

from agency_common.timeutil import utcnow

COOKIE_NAME = "agency_token"  # the access token
REFRESH_COOKIE = "agency_refresh"
REFRESH_PATH = "/auth"  # the refresh cookie is sent to the refresh route only
ACCESS, REFRESH = "access", "refresh"
_hasher = PasswordHash.recommended()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password, password_hash)
    except PwdlibError:  # a malformed or unknown hash never matches
        return False


@dataclass(frozen=True)
class User:
    login: str
    name: str = ""
    groups: tuple[str, ...] = ()
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions


@dataclass
class UserRecord:
    login: str
    password_hash: str
    name: str
    groups: tuple[str, ...]
    linked_agent: str | None = None


class UserDirectory:
    """Users and groups read from the configuration file."""

    def __init__(self, users: dict[str, UserRecord], groups: dict[str, frozenset[str]]) -> None:
        self.users = users
        self.groups = groups
        self.path: Path | None = None
        self._stamp: tuple[int, int] | None = None

    @classmethod
    def from_file(cls, path: Path) -> UserDirectory:
        path = Path(path)
        stamp = _stamp(path)
        directory = cls.from_dict(yaml.safe_load(path.read_text()) or {})
        directory.path, directory._stamp = path, stamp
        return directory

    def current(self) -> UserDirectory:
        """The directory as its file says now (read again when the file changed; kept as it was if the
        file cannot be read or parsed, e.g. while an editor writes it)."""
        if self.path is None:
            return self
        try:
            if _stamp(self.path) == self._stamp:
                return self
            return UserDirectory.from_file(self.path)
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
            return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserDirectory:
        groups = {name: frozenset(perms or []) for name, perms in (data.get("groups") or {}).items()}
        users = {}
        for entry in data.get("users") or []:
            rec = UserRecord(
                login=entry["login"],
                password_hash=entry["password_hash"],
                name=entry.get("name", entry["login"]),
                groups=tuple(entry.get("groups") or ()),
            )
            unknown = [g for g in rec.groups if g not in groups]
            if unknown:
                raise ValueError(f"user {rec.login} is in unknown groups {unknown}")
            users[rec.login] = rec
        return cls(users, groups)

    def credential_of(self, login: str) -> str | None:
        """A fingerprint of the user's password hash: a session started before a password change
        is not refreshed after it."""
        rec = self.users.get(login)
        return hashlib.sha256(rec.password_hash.encode()).hexdigest()[:16] if rec else None

    def permissions_of(self, rec: UserRecord) -> frozenset[str]:
        return frozenset().union(*(self.groups[g] for g in rec.groups)) if rec.groups else frozenset()

    def authenticate(self, login: str, password: str) -> User | None:
        rec = self.users.get(login)
        if rec is None:
            verify_password(password, _DUMMY_HASH)  # same work for unknown users: no timing oracle
            return None
        if not verify_password(password, rec.password_hash):
            return None
        return User(rec.login, rec.name, rec.groups, self.permissions_of(rec))


_DUMMY_HASH = hash_password("not-a-real-password")


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


# -- password policy (ASVS V2.1): for the users an administrator creates -----------------------
MIN_PASSWORD_LENGTH = 12
# The most common passwords of the public breach lists that are 12 characters or longer, and the
# platform's own words: a short list, checked case-insensitively.
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678910", "qwertyuiop12", "qwertyuiopasdfghjkl",
    "password1234", "password12345", "password123456", "passwordpassword", "iloveyou1234",
    "aaaaaaaaaaaa", "abc123456789", "abcdefghijkl", "changeme1234", "letmein12345", "welcome12345",
    "administrator", "admin1234567", "adminadminadmin", "trustno1trustno1", "qwerty123456",
    "1q2w3e4r5t6y", "1qaz2wsx3edc", "zaq12wsxcde3", "football1234", "baseball1234", "monkey123456",
    "superman1234", "sunshine1234", "princess1234", "insurance123", "insurance1234", "agency123456",
    "agencyagency",
})


def password_problems(login: str, password: str) -> list[str]:
    """What is wrong with a new password, in words (empty: it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    folded = password.casefold()
    name = login.casefold()
    if name and (folded == name or (len(name) >= 4 and name in folded)):
        problems.append("a password must not be or contain the login")
    if folded in COMMON_PASSWORDS or len(set(folded)) <= 2:
        problems.append("this password is too common")
    return problems


class WeakPassword(ValueError):
    pass


def check_password(login: str, password: str) -> None:
    """Raise ``WeakPassword`` naming every problem of a new password."""
    if problems := password_problems(login, password):
        raise WeakPassword(f"password for {login} refused: " + "; ".join(problems))


class TokenKeys:
    """The keys tokens are signed and verified with (Ed25519, EdDSA): at most one private key that
    signs, and the public keys that verify, by ``kid`` (the current one and the previous ones, so a
    key can rotate without logging anyone out). A service given only public keys verifies only.

    Keys are written ``<kid>:<base64url of the raw 32 bytes>``; several public keys comma-separated."""

    def __init__(self, signing: tuple[str, Ed25519PrivateKey] | None = None,
                 verifying: dict[str, Ed25519PublicKey] | None = None) -> None:
        self.signing = signing
        self.verifying = dict(verifying or {})
        if signing is not None:
            self.verifying.setdefault(signing[0], signing[1].public_key())
        if not self.verifying:
            raise ValueError("no token keys: give a signing key or at least one verifying key")

    @classmethod
    def parse(cls, signing: str | None, verifying: str | None = None) -> TokenKeys:
        private = None
        if signing and signing.strip():
            kid, raw = _split_key(signing.strip())
            private = (kid, Ed25519PrivateKey.from_private_bytes(raw))
        public = {}
        for item in (verifying or "").split(","):
            if item.strip():
                kid, raw = _split_key(item.strip())
                public[kid] = Ed25519PublicKey.from_public_bytes(raw)
        return cls(private, public)

    @classmethod
    def derived(cls, secret: str) -> TokenKeys:
        """A key pair derived from the shared secret: development and tests only (settings refuse it
        elsewhere), so that a test can sign tokens with the secret the services were given."""
        private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"agency-token-key:" + secret.encode()).digest())
        return cls((f"dev-{_fingerprint(private.public_key())}", private))

    @staticmethod
    def generate(kid: str | None = None) -> tuple[str, str]:
        """A new key pair as (signing key, verifying key) strings."""
        private = Ed25519PrivateKey.generate()
        kid = kid or _fingerprint(private.public_key())
        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        return f"{kid}:{_b64(raw)}", public_key_text(f"{kid}:{_b64(raw)}")

    def verifying_text(self) -> str:
        """The public keys, written as ``AGENCY_JWT_VERIFY_KEYS`` takes them (for a verify-only service)."""
        return ",".join(f"{kid}:{_b64(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))}"
                        for kid, key in self.verifying.items())

    def key_for(self, kid: object) -> Ed25519PublicKey:
        key = self.verifying.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.InvalidSignatureError(f"signed with an unknown key {kid!r}")
        return key


def public_key_text(signing: str) -> str:
    """The verifying key (``kid:base64url``) of a signing key written the same way."""
    kid, raw = _split_key(signing)
    public = Ed25519PrivateKey.from_private_bytes(raw).public_key()
    return f"{kid}:{_b64(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _split_key(text: str) -> tuple[str, bytes]:
    kid, sep, data = text.rpartition(":")
    if not sep or not kid:
        raise ValueError("a token key is written <kid>:<base64url key>")
    try:
        raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except ValueError:
        raise ValueError(f"token key {kid!r} is not base64url") from None
    if len(raw) != 32:
        raise ValueError(f"token key {kid!r} is not a 32-byte Ed25519 key")
    return kid, raw


def _fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:12]


class DenyList:
    """Revoked token ids (a token's ``jti``, or a whole login session's ``sid``), each kept until the
    last token it could refuse has expired anyway. In memory: every instance fills its own from the
    revocation topic (``agency_common.token_revocations``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._until: dict[str, float] = {}
        self._next_prune = 0.0

    def add(self, token_id: str, until: float) -> None:
        if until > self.clock():
            self._until[token_id] = max(until, self._until.get(token_id, 0.0))

    def revoked(self, *token_ids: str | None) -> bool:
        now = self.clock()
        if now >= self._next_prune:  # forget what has expired, once a minute
            self._until = {k: v for k, v in self._until.items() if v > now}
            self._next_prune = now + 60
        return any(t is not None and self._until.get(t, 0.0) > now for t in token_ids)

    def __len__(self) -> int:
        return len(self._until)


@dataclass(frozen=True)
class Revocation:
    token_id: str
    until: float  # epoch seconds: after it the token is expired anyway
    reason: str


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_in: int  # seconds
    refresh_expires_at: float  # epoch seconds
    session_id: str


class TokenService:
    """Access tokens (short-lived, the user's permissions in them) and refresh tokens (the login
    session, rotated at each use), both EdDSA-signed JWTs with a ``kid`` header; every token refused
    once its ``jti`` or its session's ``sid`` is on the deny list."""

    def __init__(self, secret: str | None = None, ttl_minutes: float = 480, issuer: str = "agency-platform", *,
                 keys: TokenKeys | None = None, refresh_ttl_minutes: float = 480,
                 denylist: DenyList | None = None) -> None:
        if keys is None:
            if not secret:
                raise ValueError("TokenService needs keys or a secret to derive them from")
            keys = TokenKeys.derived(secret)
        self.keys = keys
        self.ttl = timedelta(minutes=ttl_minutes)
        self.refresh_ttl = timedelta(minutes=refresh_ttl_minutes)
        self.issuer = issuer
        self.denylist = denylist or DenyList()
        # called with each revocation, to tell the other instances (the revocation feed)
        self.on_revoke: Callable[[Revocation], None] | None = None

    @property
    def can_sign(self) -> bool:
        return self.keys.signing is not None

    def _encode(self, claims: dict[str, Any]) -> str:
        if self.keys.signing is None:
            raise NotSigning("this service holds only public keys: it verifies tokens but does not issue them")
        kid, private = self.keys.signing
        return jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": kid})

    def issue(self, user: User, session_id: str | None = None) -> str:
        """An access token for the user (``session_id``: the login session it belongs to)."""
        now = utcnow()
        claims = {
            "sub": user.login,
            "name": user.name,
            "groups": list(user.groups),
            "perms": sorted(user.permissions),
            "iat": now,
            "exp": now + self.ttl,
            "iss": self.issuer,
            "typ": ACCESS,
            "jti": uuid.uuid4().hex,
            "sid": session_id or uuid.uuid4().hex,  # the CSRF token is bound to it
        }
        return self._encode(claims)

    def issue_pair(self, user: User, session_id: str | None = None, session_ends: datetime | None = None,
                   credential: str | None = None) -> TokenPair:
        """A login (or a refresh of it): an access token and the session's next refresh token. The
        session ends ``refresh_ttl`` after the login, however often it is refreshed; ``credential``
        (``UserDirectory.credential_of``) ends it when the password changes."""
        now = utcnow()
        sid = session_id or uuid.uuid4().hex
        ends = session_ends or now + self.refresh_ttl
        claims = {"sub": user.login, "iat": now, "exp": ends, "iss": self.issuer, "typ": REFRESH,
                  "jti": uuid.uuid4().hex, "sid": sid}
        if credential:
            claims["cred"] = credential
        refresh = self._encode(claims)
        return TokenPair(self.issue(user, sid), refresh, int(self.ttl.total_seconds()), ends.timestamp(), sid)

    def claims(self, token: str, typ: str = ACCESS, verify_exp: bool = True) -> dict[str, Any]:
        """The verified claims of a token of this type (raises ``jwt.PyJWTError``)."""
        kid = jwt.get_unverified_header(token).get("kid")
        claims = jwt.decode(token, self.keys.key_for(kid), algorithms=["EdDSA"], issuer=self.issuer,
                            options={"require": ["exp", "sub", "iss", "jti"], "verify_exp": verify_exp})
        if claims.get("typ", ACCESS) != typ:
            raise jwt.InvalidTokenError(f"not an {typ} token")
        if self.denylist.revoked(claims["jti"], claims.get("sid")):
            raise Revoked("token revoked")
        return claims

    def verify(self, token: str) -> User:
        claims = self.claims(token)
        return User(
            login=claims["sub"],
            name=claims.get("name", ""),
            groups=tuple(claims.get("groups", ())),
            permissions=frozenset(claims.get("perms", ())),
        )

    def session_of(self, token: str | None) -> str | None:
        """The login session a token (expired or not) belongs to, if its signature is good."""
        if not token:
            return None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            claims = jwt.decode(token, self.keys.key_for(kid), algorithms=["EdDSA"], issuer=self.issuer,
                                options={"verify_exp": False})
        except jwt.PyJWTError:
            return None
        sid = claims.get("sid")
        return sid if isinstance(sid, str) else None

    def refresh(self, refresh_token: str, users: UserDirectory) -> TokenPair:
        """A new access token with the user as the directory has them now, and the session's next
        refresh token; the one given is revoked (rotation). A refresh token used twice means it was
        copied: the whole session is revoked. A user no longer in the directory is refused."""
        try:
            claims = self.claims(refresh_token, REFRESH)
        except Revoked:
            self._revoke_session_of(refresh_token)
            raise
        rec = users.users.get(claims["sub"])
        if rec is None:
            self.revoke(claims["sid"], claims["exp"], "user removed")
            raise jwt.InvalidTokenError("this user no longer exists")
        credential = users.credential_of(rec.login)
        if "cred" in claims and claims["cred"] != credential:
            self.revoke(claims["sid"], claims["exp"], "password changed")
            raise jwt.InvalidTokenError("the password has changed: log in again")
        self.revoke(claims["jti"], claims["exp"], "rotated")
        user = User(rec.login, rec.name, rec.groups, users.permissions_of(rec))
        return self.issue_pair(user, claims["sid"], datetime.fromtimestamp(claims["exp"], UTC),
                               credential if "cred" in claims else None)

    def _revoke_session_of(self, refresh_token: str) -> None:
        """A revoked refresh token presented again (signature still good): end its session."""
        sid = self.session_of(refresh_token)
        if sid and not self.denylist.revoked(sid):
            self.revoke(sid, (utcnow() + self.refresh_ttl).timestamp(), "refresh token reused")

    def logout(self, *tokens: str | None) -> str | None:
        """Revoke the tokens given (access and refresh, expired or not) and their session; returns the
        login they named."""
        login = None
        for token in tokens:
            if not token:
                continue
            for typ in (ACCESS, REFRESH):
                try:
                    claims = self.claims(token, typ, verify_exp=False)
                except jwt.PyJWTError:
                    continue
                login = claims["sub"]
                self.revoke(claims["jti"], claims["exp"], "logout")
                if claims.get("sid"):
                    self.revoke(claims["sid"], (utcnow() + self.refresh_ttl).timestamp(), "logout")
                break
        return login

    def revoke(self, token_id: str, until: float, reason: str) -> None:
        """On the deny list here at once; the other instances hear of it through ``on_revoke``."""
        self.denylist.add(token_id, until)
        if self.on_revoke is not None:
            self.on_revoke(Revocation(token_id, float(until), reason))


class Revoked(jwt.InvalidTokenError):
    """The token, or its session, is on the deny list."""


class NotSigning(Exception):
    """A verify-only service was asked to issue a token."""


def token_from_request(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE_NAME)


def current_user(request: Request) -> User:
    tokens: TokenService = request.app.state.runtime.tokens
    token = token_from_request(request)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "authentication required",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        user = tokens.verify(token)
    except jwt.PyJWTError:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or expired token",
                            headers={"WWW-Authenticate": "Bearer"}) from None
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(*permissions: str) -> Any:
    """Dependency: the user must hold every permission given (401 without a token, 403 without
    the permission)."""

    def dependency(user: CurrentUser) -> User:
        missing = [p for p in permissions if not user.can(p)]
        if missing:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing permission: {', '.join(missing)}")
        return user

    dependency.required_permissions = permissions  # type: ignore[attr-defined]  # read by the route audit
    return Depends(dependency)
