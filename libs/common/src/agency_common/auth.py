"""Users, permissions and signed tokens.

Users and their groups come from a configuration file (YAML); each group grants permissions
named after the seeds (``statements:import``, ``individuals:edit`` ...; ``*`` grants all).
Passwords are hashed with argon2 (pwdlib). Login issues a JWT signed with the platform secret;
every service verifies tokens locally, so no service shares a user database with another.
The dashboard keeps the same token in an HttpOnly cookie.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import jwt
import yaml
from fastapi import Depends, HTTPException, Request, status
from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError

from agency_common.timeutil import utcnow

COOKIE_NAME = "agency_token"
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

    @classmethod
    def from_file(cls, path: Path) -> UserDirectory:
        data = yaml.safe_load(Path(path).read_text()) or {}
        return cls.from_dict(data)

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


class TokenService:
    def __init__(self, secret: str, ttl_minutes: int = 480, issuer: str = "agency-platform") -> None:
        self.secret = secret
        self.ttl = timedelta(minutes=ttl_minutes)
        self.issuer = issuer

    def issue(self, user: User) -> str:
        now = utcnow()
        claims = {
            "sub": user.login,
            "name": user.name,
            "groups": list(user.groups),
            "perms": sorted(user.permissions),
            "iat": now,
            "exp": now + self.ttl,
            "iss": self.issuer,
            "jti": uuid.uuid4().hex,  # every login its own token (and CSRF token)
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def verify(self, token: str) -> User:
        claims = jwt.decode(token, self.secret, algorithms=["HS256"], issuer=self.issuer,
                            options={"require": ["exp", "sub", "iss"]})
        return User(
            login=claims["sub"],
            name=claims.get("name", ""),
            groups=tuple(claims.get("groups", ())),
            permissions=frozenset(claims.get("perms", ())),
        )


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
