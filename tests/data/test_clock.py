"""Clocks: simulated jumps, accelerated pacing and wall time, all without really waiting."""

from __future__ import annotations

import asyncio

import pytest

from drift_engine.clock import AcceleratedClock, Clock, SimulatedClock, WallClock


class FakeTime:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def test_all_clocks_satisfy_the_protocol():
    fake = FakeTime()
    for clock in (
        SimulatedClock(0),
        AcceleratedClock(10, 0, time_fn=fake.time, sleep_fn=fake.sleep),
        WallClock(time_fn=fake.time, sleep_fn=fake.sleep),
    ):
        assert isinstance(clock, Clock)


def test_simulated_clock_jumps_and_never_goes_back():
    clock = SimulatedClock(1_000)
    clock.sleep_until(5_000)
    assert clock.now() == 5_000
    clock.sleep_until(10)  # the past: no-op
    assert clock.now() == 5_000
    assert clock.advance(60) == 5_060
    with pytest.raises(ValueError):
        clock.advance(-1)
    asyncio.run(clock.asleep_until(6_000))
    assert clock.now() == 6_000


def test_accelerated_clock_scales_wall_time():
    fake = FakeTime(100.0)
    clock = AcceleratedClock(60, start=1_700_000_000, time_fn=fake.time, sleep_fn=fake.sleep)
    assert clock.now() == 1_700_000_000
    fake.t += 2.5  # 2.5 wall seconds = 150 simulated seconds
    assert clock.now() == 1_700_000_150
    clock.sleep_until(1_700_003_750)  # one simulated hour later = 60 wall seconds
    assert fake.sleeps == [pytest.approx(60.0)]
    assert clock.now() == 1_700_003_750
    clock.sleep_until(1_700_000_000)  # the past: no sleep
    assert len(fake.sleeps) == 1
    with pytest.raises(ValueError):
        AcceleratedClock(0)


def test_wall_clock_sleeps_until_the_time():
    fake = FakeTime(1_700_000_000.25)
    clock = WallClock(time_fn=fake.time, sleep_fn=fake.sleep)
    assert clock.now() == 1_700_000_000
    clock.sleep_until(1_700_000_010)
    assert fake.sleeps == [pytest.approx(9.75)]
    assert clock.now() == 1_700_000_010
