"""pixgw.gcpolicy (issue 30): survivors of the young collections are frozen out of the
collector's sight, so a full collection only walks what is new since; pauses are measured;
uninstall puts the process back. Real gc, under 0.5 s."""

from __future__ import annotations

import gc

from pixgw.gcpolicy import GcPolicy


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_survivors_are_frozen_and_a_full_collection_walks_only_what_is_new() -> None:
    policy = GcPolicy()
    policy.install()
    try:
        assert gc.get_freeze_count() > 0  # what startup made is set aside at once
        keep = [Node() for _ in range(20000)]  # long-lived: survive gen0 and gen1 collections
        gc.collect(1)
        assert policy.freezes >= 2 and policy.collections[1] >= 1
        frozen = gc.get_freeze_count()
        assert frozen >= len(keep)
        assert gc.get_count()[2] == 0 or len(gc.get_objects(2)) < 1000  # the old gen is small
        # young cyclic garbage is still collected (the policy only moves survivors)
        for _ in range(100):
            a, b = Node(), Node()
            a.other, b.other = b, a
        del a, b
        assert gc.collect(0) >= 200
        status = policy.status()
        assert status["longest_pause_ms"] >= 0 and sum(status["collections"]) >= 2
        assert status["frozen_objects"] == gc.get_freeze_count()
        del keep  # frozen objects are still freed by reference counting
    finally:
        policy.uninstall()
    assert gc.get_freeze_count() == 0 and policy._callback not in gc.callbacks


def test_leak_check_finds_a_cycle_that_died_frozen() -> None:
    policy = GcPolicy()
    policy.install()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gc.freeze()  # as if it had survived the young collections
        del a, b
        assert policy.leak_check() >= 2  # found only by unfreezing: what the policy would leak
        assert gc.get_freeze_count() > 0  # and frozen again after the check
    finally:
        policy.uninstall()


def test_without_freezing_pauses_are_still_measured() -> None:
    policy = GcPolicy(freeze=False)
    policy.install()
    try:
        frozen = gc.get_freeze_count()
        gc.collect()
        assert policy.collections[2] == 1 and policy.freezes == 0
        assert gc.get_freeze_count() == frozen
    finally:
        policy.uninstall()


def test_the_service_sweeps_dead_frozen_cycles_only_when_no_session_is_up() -> None:
    from types import SimpleNamespace

    from pixgw.tap import GcPolicyService

    gateway = SimpleNamespace(sessions={"a session": object()}, gc_policy=None)
    service = GcPolicyService(gateway)  # type: ignore[arg-type]
    service.policy.install()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gc.freeze()
        del a, b
        service.idle_sweep()
        assert service.policy.swept == 0  # sessions up: no full collection (a long pause)
        gateway.sessions.clear()
        service.idle_sweep()
        assert service.policy.swept >= 2
    finally:
        service.policy.uninstall()
