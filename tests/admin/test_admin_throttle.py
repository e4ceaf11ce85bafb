"""The admin login throttle on its own, with an injected clock."""
from __future__ import annotations

from dataclasses import replace

from app.admin_throttle import LoginPolicy, LoginThrottle, login_policy
from app.options import Options


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(policy: LoginPolicy) -> tuple[LoginThrottle, FakeClock]:
    clock = FakeClock()
    return LoginThrottle(lambda: policy, clock), clock


def test_delay_doubles_from_the_max_failures_th_up_to_the_cap() -> None:
    policy = LoginPolicy(max_failures=3, backoff=1, backoff_max=10)
    assert [policy.delay(n) for n in range(1, 9)] == [0, 0, 1, 2, 4, 8, 10, 10]
    assert policy.delay(10**9) == 10  # no overflow
    assert LoginPolicy(max_failures=0, backoff=2).delay(1) == 2  # 0 behaves as 1
    assert LoginPolicy(backoff=0).delay(100) == 0  # backoff 0: never locked


def test_policy_of_the_options_defaults_are_sensible() -> None:
    policy = login_policy(Options())
    assert 3 <= policy.max_failures <= 10
    assert 0 < policy.backoff <= policy.backoff_max <= 3600
    assert policy.max_addresses >= 1000


def test_lockout_then_backoff_then_success_resets() -> None:
    throttle, clock = make(LoginPolicy(max_failures=2, backoff=1, backoff_max=60))
    assert throttle.failure("a") == 0 and throttle.retry_after("a") == 0
    assert throttle.failure("a") == 1
    assert throttle.retry_after("a") == 1 and throttle.retry_after_header("a") == 1
    clock.now += 0.25
    assert throttle.retry_after("a") == 0.75 and throttle.retry_after_header("a") == 1
    clock.now += 0.75
    assert throttle.retry_after("a") == 0
    assert throttle.failure("a") == 2  # the next wrong one doubles
    clock.now += 1.5
    assert throttle.retry_after_header("a") == 1
    clock.now += 0.5
    throttle.success("a")
    assert len(throttle) == 0
    assert throttle.failure("a") == 0  # counting starts again


def test_addresses_are_independent() -> None:
    throttle, _ = make(LoginPolicy(max_failures=1, backoff=5))
    throttle.failure("a")
    assert throttle.retry_after("a") == 5 and throttle.retry_after("b") == 0
    throttle.success("b")
    assert throttle.retry_after("a") == 5


def test_failures_are_forgotten_after_backoff_max() -> None:
    throttle, clock = make(LoginPolicy(max_failures=3, backoff=1, backoff_max=30))
    throttle.failure("a")
    throttle.failure("a")
    clock.now += 31
    throttle.failure("b")  # a new failure prunes what expired
    assert len(throttle) == 1
    assert throttle.failure("a") == 0  # one failure again, not three


def test_table_is_bounded_under_address_rotation() -> None:
    throttle, clock = make(LoginPolicy(max_failures=1, backoff=100, backoff_max=1000, max_addresses=50))
    for n in range(20_000):
        throttle.failure(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
        clock.now += 0.001
        assert len(throttle) <= 50
    assert len(throttle) == 50
    assert throttle.retry_after("10.0.0.0") == 0  # the oldest were evicted
    assert throttle.retry_after("10.0.78.31") > 0  # the newest (n = 19999) are kept


def test_a_repeat_offender_moves_to_the_young_end() -> None:
    throttle, clock = make(LoginPolicy(max_failures=1, backoff=100, backoff_max=1000, max_addresses=3))
    for address in ("a", "b", "c"):
        throttle.failure(address)
    clock.now += 200  # every lockout over
    throttle.failure("a")  # a fails again: now the youngest
    throttle.failure("d")  # evicts b, the oldest
    assert throttle.retry_after("a") > 0 and throttle.retry_after("b") == 0 and len(throttle) == 3


def test_policy_is_read_at_each_use() -> None:
    current = {"opts": Options(admin_login_max_failures=1, admin_login_backoff=5)}
    throttle = LoginThrottle(lambda: login_policy(current["opts"]), FakeClock())
    assert throttle.failure("a") == 5
    current["opts"] = replace(current["opts"], admin_login_backoff=7)  # a SIGHUP reload
    assert throttle.failure("b") == 7
