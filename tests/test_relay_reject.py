"""Malformed datagrams: rejected whole, counted by reason, kept in the capped quarantine file,
never archived — while the good datagrams around them are archived in order."""

from __future__ import annotations

import time

from speeddata._avro import encode_long as zigzag
from tests.relaytools import (
    PROBE_SCHEMA,
    encode_fastavro,
    probe_record,
    single_object,
    start_relay,
)

FIELDS = [f["name"] for f in PROBE_SCHEMA["fields"]]


def _field_bytes(record):
    """The record's encoding, field by field (each encoded alone by fastavro)."""
    parts = []
    for f in PROBE_SCHEMA["fields"]:
        one = {"type": "record", "name": "one", "fields": [f]}
        parts.append(encode_fastavro(one, {f["name"]: record[f["name"]]}))
    return parts


def _with(record, name, raw):
    """The record's encoding with field ``name`` replaced by the bytes ``raw``."""
    parts = _field_bytes(record)
    parts[FIELDS.index(name)] = raw
    return b"".join(parts)


def _bad_datagrams():
    """(reason, datagram) for every kind of malformed datagram the wire can carry."""
    r = probe_record(7)
    good = encode_fastavro(PROBE_SCHEMA, r)
    return [
        ("empty", b""),
        ("truncated", good[:-1]),
        ("truncated", good[: len(good) // 2]),
        ("varint", _with(r, "time", b"\xff" * 10 + b"\x01")),
        ("int_range", _with(r, "counter", zigzag(2**31))),
        ("int_range", _with(r, "counter", zigzag(-(2**31) - 1))),
        ("boolean", _with(r, "ok", b"\x02")),
        ("length", _with(r, "label", zigzag(-1))),
        ("length", _with(r, "blob", zigzag(-3))),
        ("utf8", _with(r, "label", zigzag(2) + b"\xc3\x28")),
        ("utf8", _with(r, "label", zigzag(3) + b"\xed\xa0\x80")),  # a surrogate
        ("utf8", _with(r, "label", zigzag(2) + b"\xc0\xaf")),  # an overlong form
        ("union", _with(r, "maybe", zigzag(2))),
        ("union", _with(r, "maybe", zigzag(-1))),
        ("enum", _with(r, "level", zigzag(3))),
        ("trailing", single_object(PROBE_SCHEMA, good) + b"\xc3"),
        # one bad record among good ones rejects the whole datagram
        ("boolean", good + good + _with(r, "ok", b"\x07") + good),
        ("truncated", good + good[:5]),
    ]


def _good_datagrams(n):
    recs = [probe_record(100 + i) for i in range(n)]
    # time -98 encodes as C3 01: a bare record that starts like a single-object header
    recs[1]["time"] = -98
    grams = [encode_fastavro(PROBE_SCHEMA, rec) for rec in recs]
    assert grams[1][:2] == b"\xc3\x01"
    return grams, recs


def test_every_malformed_datagram_is_rejected_counted_and_quarantined(
    relay_binary, procs, tmp_path
):
    relay = start_relay(procs, relay_binary, tmp_path / "data")
    bad = _bad_datagrams()
    grams, recs = _good_datagrams(len(bad) + 1)
    # good, bad, good, bad, ..., good
    interleaved = [grams[0]]
    for (_, b), g in zip(bad, grams[1:], strict=True):
        interleaved += [b, g]
    t0 = time.time_ns()
    relay.send(interleaved)
    relay.wait_archived(len(recs))
    t1 = time.time_ns()
    stopped = relay.stop()

    archived = relay.archived()
    assert [{k: v for k, v in a.items() if k != "rx_time"} for a in archived] == recs

    entries = relay.quarantine()
    assert [(e.reason, e.payload) for e in entries] == bad
    assert all(t0 <= e.rx_ns <= t1 for e in entries)

    assert stopped["received"] == str(len(interleaved))
    assert stopped["rejected"] == str(len(bad))
    assert stopped["quarantined"] == str(len(bad))
    for reason in {reason for reason, _ in bad}:
        expected = sum(1 for r, _ in bad if r == reason)
        assert stopped.get(f"rejected.{reason}") == str(expected), reason


def test_without_fingerprint_single_object_datagrams_are_rejected(relay_binary, procs, tmp_path):
    relay = start_relay(procs, relay_binary, tmp_path / "data", with_fingerprint=False)
    so = single_object(PROBE_SCHEMA, encode_fastavro(PROBE_SCHEMA, probe_record(3)))
    good = encode_fastavro(PROBE_SCHEMA, probe_record(4))
    relay.send([so, good])
    relay.wait_archived(1)
    stopped = relay.stop()

    assert [r["counter"] for r in relay.archived()] == [4]
    assert [e.payload for e in relay.quarantine()] == [so]
    assert stopped["rejected"] == "1"


def test_quarantine_keeps_whole_entries_up_to_its_cap(relay_binary, procs, tmp_path):
    cap = 1000
    relay = start_relay(procs, relay_binary, tmp_path / "data", f"--quarantine-bytes={cap}")
    good = encode_fastavro(PROBE_SCHEMA, probe_record(9))
    bad = [good[:-1] + bytes([i]) + b"\xff\xff" for i in range(40)]  # same size, each distinct
    relay.send(bad)
    relay.send([good])
    relay.wait_archived(1)
    stopped = relay.stop()

    entry_size = 4 + 8 + 2 + len(bad[0])
    kept = cap // entry_size
    assert 0 < kept < len(bad)
    entries = relay.quarantine()
    assert [e.payload for e in entries] == bad[:kept]
    path = relay.data_dir / "quarantine" / "probe.bin"
    assert path.stat().st_size == kept * entry_size <= cap
    assert stopped["quarantined"] == str(kept)
    assert stopped["quarantine_dropped"] == str(len(bad) - kept)
    assert stopped["rejected"] == str(len(bad))
