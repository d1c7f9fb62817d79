"""Login throttling (ASVS V2.2): a login locked after repeated failures, with back-off; an address
refused after too many failures in a window; password hashing off the event loop with bounded
concurrency, so a burst of logins cannot stall the service.

Counts are kept in this process (each service authenticates its own logins): with N replicas an
attacker gets N times the budget, still a few dozen guesses an hour per login.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from agency_common.auth import User, UserDirectory

MAX_TRACKED = 100_000  # logins and addresses remembered at most (oldest forgotten first)


@dataclass(frozen=True)
class LoginPolicy:
    failures_before_lockout: int = 5
    lockout_seconds: float = 30.0  # the first lockout; doubles with each further failure
    lockout_max_seconds: float = 900.0
    failures_per_address: int = 20
    address_window_seconds: float = 300.0
    concurrent_hashes: int = 4


class Throttled(Exception):
    def __init__(self, retry_after: float, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = max(1, math.ceil(retry_after))
        self.reason = reason

    def message(self) -> str:
        return f"Too many failed logins: try again in {self.retry_after} s."


@dataclass
class _LoginState:
    failures: int = 0
    locked_until: float = 0.0


@dataclass
class LoginGuard:
    policy: LoginPolicy = field(default_factory=LoginPolicy)
    clock: Callable[[], float] = time.monotonic
    _logins: OrderedDict[str, _LoginState] = field(default_factory=OrderedDict)
    _addresses: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _hashing: asyncio.Semaphore | None = None

    def check(self, login: str, address: str) -> None:
        """Raise ``Throttled`` if this login or address may not try now."""
        now = self.clock()
        state = self._logins.get(login.casefold())
        if state is not None and state.locked_until > now:
            raise Throttled(state.locked_until - now, "login locked")
        recent = self._recent(address, now)
        if recent is not None and len(recent) >= self.policy.failures_per_address:
            raise Throttled(recent[0] + self.policy.address_window_seconds - now, "address rate limited")

    def failed(self, login: str, address: str) -> None:
        now = self.clock()
        state = self._remember(self._logins, login.casefold(), _LoginState)
        state.failures += 1
        over = state.failures - self.policy.failures_before_lockout
        if over >= 0:
            state.locked_until = now + min(self.policy.lockout_seconds * 2 ** min(over, 30),
                                           self.policy.lockout_max_seconds)
        self._remember(self._addresses, address, deque).append(now)

    def succeeded(self, login: str) -> None:
        self._logins.pop(login.casefold(), None)

    async def authenticate(self, users: UserDirectory, login: str, password: str) -> User | None:
        """The password checked in a worker thread, a few at a time (argon2 is deliberately slow)."""
        if self._hashing is None:
            self._hashing = asyncio.Semaphore(self.policy.concurrent_hashes)
        async with self._hashing:
            return await asyncio.to_thread(users.authenticate, login, password)

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._addresses.get(address)
        if times is None:
            return None
        while times and times[0] <= now - self.policy.address_window_seconds:
            times.popleft()
        if not times:
            del self._addresses[address]
            return None
        return times

    @staticmethod
    def _remember(table: OrderedDict, key: str, new: Callable[[], object]):  # type: ignore[no-untyped-def]
        if key in table:
            table.move_to_end(key)
            return table[key]
        while len(table) >= MAX_TRACKED:
            table.popitem(last=False)
        table[key] = value = new()
        return value
