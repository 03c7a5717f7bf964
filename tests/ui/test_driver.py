"""KeyReader, the kiosk's terminal input: lenient decoding and the bound on bursts."""

from __future__ import annotations

from textual import events

from kiosk.textual_input import BURST_CHARACTERS, BURST_REFILL_PER_SECOND, BurstBudget, KeyReader


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def keys(messages: object) -> list[str]:
    return [m.key for m in messages if isinstance(m, events.Key)]  # type: ignore[attr-defined]


def test_bytes_that_are_not_utf8_become_the_replacement_character() -> None:
    reader = KeyReader()
    typed = [event.character for event in reader.feed(b"caf\xe9q\xff\xc3(")]
    assert "".join(c or "" for c in typed) == "caf\ufffdq\ufffd\ufffd("


def test_a_multibyte_character_split_across_reads_is_kept() -> None:
    reader = KeyReader()
    first = list(reader.feed(b"\xc3"))
    second = [event.character for event in reader.feed(b"\xa9")]
    assert first == [] and second == ["é"]


def test_a_flood_is_discarded_until_the_terminal_is_quiet_then_keys_flow_again() -> None:
    clock = Clock()
    reader = KeyReader(BurstBudget(clock))
    assert len(keys(reader.feed(b"a" * 4000))) == 4000
    assert keys(reader.feed(b"a" * 4000)) == []  # past the budget: the flood starts
    assert reader.discarding
    clock.now += 0.5
    assert keys(reader.feed(b"b")) == []  # still the same burst: nothing read
    assert keys(reader.quiet()) == []  # quiet: the flood is over
    assert not reader.discarding
    clock.now += 1.0
    assert keys(reader.feed(b"\x7fz\r")) == ["backspace", "z", "enter"]


def test_the_budget_refills_with_time_up_to_its_size() -> None:
    clock = Clock()
    budget = BurstBudget(clock)
    assert budget.take(BURST_CHARACTERS)
    assert not budget.take(1)
    clock.now += 1.0
    assert budget.take(BURST_REFILL_PER_SECOND)
    assert not budget.take(1)
    clock.now += 3600.0
    assert not budget.take(BURST_CHARACTERS + 1)
    assert budget.take(BURST_CHARACTERS)
