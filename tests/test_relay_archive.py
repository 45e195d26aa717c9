"""The real relay archives what devices send: both encodings, several records per datagram,
every record with its receive time, in files that three Avro implementations read alike."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import yaml

from speeddata import archive
from speeddata.config import ROOT
from speeddata.schema import archive_schema, fingerprint
from tests import logicaltypes
from tests.procs import wait_until
from tests.relaytools import (
    PROBE_SCHEMA,
    assert_three_readers_agree,
    encode_apache,
    encode_fastavro,
    events,
    probe_record,
    read_apache,
    read_avrocat,
    read_fastavro,
    single_object,
    start_relay,
)
from tests.system import PY, free_channel_ports, make_system


def _without_rx(records):
    return [{k: v for k, v in r.items() if k != "rx_time"} for r in records]


def _sent_datagrams(schema):
    """(datagrams, records in order): every encoding and packing the wire protocol allows."""
    recs = [probe_record(i) for i in range(60)]
    grams = []
    grams += [encode_fastavro(schema, r) for r in recs[0:10]]  # bare, fastavro
    grams += [encode_apache(schema, r) for r in recs[10:20]]  # bare, Apache avro
    grams += [single_object(schema, encode_fastavro(schema, r)) for r in recs[20:30]]
    grams.append(b"".join(encode_apache(schema, r) for r in recs[30:37]))  # 7 bare in one
    grams.append(b"".join(single_object(schema, encode_apache(schema, r)) for r in recs[37:45]))
    grams += [
        b"".join(encode_fastavro(schema, r) for r in recs[i : i + 5]) for i in range(45, 60, 5)
    ]
    return grams, recs


def test_every_encoding_arrives_identical_in_order_with_rx_time(relay_binary, procs, tmp_path):
    relay = start_relay(procs, relay_binary, tmp_path / "data")
    grams, recs = _sent_datagrams(PROBE_SCHEMA)
    t0 = time.time_ns()
    relay.send(grams)
    live = relay.wait_archived(len(recs))
    t1 = time.time_ns()

    assert _without_rx(live) == recs
    assert all(t0 <= r["rx_time"] <= t1 for r in live), "rx_time outside the test's window"
    assert [r["rx_time"] for r in live] == sorted(r["rx_time"] for r in live)

    stopped = relay.stop()
    assert stopped["received"] == str(len(grams))
    assert stopped["records"] == stopped["archived"] == str(len(recs))
    assert stopped["rejected"] == "0"
    assert relay.archived() == live, "closing the file changed its records"


def test_closed_files_read_alike_by_fastavro_apache_avro_and_avrocat(relay_binary, procs, tmp_path):
    relay = start_relay(procs, relay_binary, tmp_path / "data")
    grams, recs = _sent_datagrams(PROBE_SCHEMA)
    relay.send(grams)
    relay.wait_archived(len(recs))
    relay.stop()

    files = relay.files()
    assert files, "no archive file"
    read = [r for p in files for r in assert_three_readers_agree(p)]
    assert _without_rx(read) == recs
    assert list(read[0])[0] == "rx_time", "rx_time is not the first field"


def test_header_holds_the_archive_schema_text_and_metadata(relay_binary, procs, tmp_path):
    relay = start_relay(procs, relay_binary, tmp_path / "data")
    relay.send([encode_fastavro(PROBE_SCHEMA, probe_record(1))])
    relay.wait_archived(1)
    relay.stop()

    [path] = relay.files()
    with archive.open_archive(path) as f:
        header = f.header
    assert json.loads(header.schema_text) == archive_schema(PROBE_SCHEMA)
    assert header.schema["fields"][0]["name"] == "rx_time"
    assert header.schema["fields"][0]["type"] == {"type": "long", "logicalType": "timestamp-nanos"}
    assert header.channel == "probe"
    assert header.time_field == "time"
    assert header.time_unit == "ns"
    assert header.fingerprint == fingerprint(PROBE_SCHEMA)
    assert header.codec == "null"
    name = archive.parse_archive_name(path.name)
    assert name is not None and name.channel == "probe"


LINKED_LIST = {
    "type": "record",
    "name": "node",
    "fields": [{"name": "v", "type": "int"}, {"name": "next", "type": ["null", "node"]}],
}


def _chain(*values: int) -> dict | None:
    """A linked list of nodes holding ``values`` (None when empty)."""
    head: dict | None = None
    for v in reversed(values):
        head = {"v": v, "next": head}
    return head


def test_recursive_schema_archives_read_back_by_all_three_readers(relay_binary, procs, tmp_path):
    relay = start_relay(procs, relay_binary, tmp_path / "data", schema=LINKED_LIST, time_field=None)
    recs = [_chain(*range(i, i + i % 5 + 1)) for i in range(20)]
    relay.send(encode_fastavro(LINKED_LIST, r) for r in recs)
    relay.wait_archived(len(recs))
    relay.stop()

    [path] = relay.files()
    with archive.open_archive(path) as f:
        assert json.loads(f.header.schema_text) == archive_schema(LINKED_LIST)
    read = read_fastavro(path)
    assert _without_rx(read) == recs
    assert read_apache(path) == read
    # avrocat prints the Avro JSON encoding: a union's record as {"node": {...}}
    # (fastavro's json_writer, which assert_three_readers_agree uses, fails on recursion).
    assert read_avrocat(path) == [{**r, "next": _tagged(r["next"])} for r in read]


def _tagged(node: dict | None) -> dict | None:
    """A ["null", "node"] union value in the Avro JSON encoding."""
    return None if node is None else {"node": {"v": node["v"], "next": _tagged(node["next"])}}


def test_sigterm_writes_the_pending_block_and_exits_0(relay_binary, procs, tmp_path):
    # A flush interval far beyond the test: only closing can write the block.
    relay = start_relay(procs, relay_binary, tmp_path / "data", flush_ms=60000)
    recs = [probe_record(i) for i in range(10)]
    relay.send(encode_fastavro(PROBE_SCHEMA, r) for r in recs)
    time.sleep(0.3)
    assert relay.archived() == [], "a block was written before its interval or SIGTERM"

    stopped = relay.stop()
    assert stopped["archived"] == "10"
    assert _without_rx(relay.archived()) == recs
    closed = [Path(e["path"]).name for e in events(relay.proc, "file_closed")]
    assert closed == [p.name for p in relay.files()]


def test_kernel_drops_are_counted(relay_binary, procs, tmp_path):
    # A tiny receive buffer and a stopped relay: the kernel must drop most of what is sent.
    relay = start_relay(procs, relay_binary, tmp_path / "data", "--rcvbuf=4096")
    gram = encode_fastavro(PROBE_SCHEMA, probe_record(3))
    os.kill(relay.proc.pid, signal.SIGSTOP)
    try:
        relay.send([gram] * 300, pace_every=1000)
    finally:
        os.kill(relay.proc.pid, signal.SIGCONT)
    queued = len(wait_until(relay.archived, what="archiving after SIGCONT"))
    # The kernel reports drops with the next datagram it queues.
    relay.send([gram])
    wait_until(lambda: len(relay.archived()) == queued + 1, what="the datagram after the drops")
    stopped = relay.stop()

    drops = int(stopped["kernel_drops"])
    assert drops > 0
    assert int(stopped["received"]) + drops == 301
    assert len(relay.archived()) == int(stopped["received"])


def test_values_out_of_every_logical_types_range_read_raw_from_archive_and_tail(
    relay_binary, procs, tmp_path
):
    """A device's values outside their logical type's range (a microsecond clock in a
    timestamp-millis field, a uuid that is no UUID...) are valid Avro: archived, and read back
    raw, every record, by speeddata.archive and by sdctl tail (data.<channel>)."""
    system = make_system(tmp_path, relay_binary)
    [port] = free_channel_ports(1)
    config = yaml.safe_load(system.config.read_text())
    config["channels"].append({"name": "logical", "port": port, "schema": logicaltypes.SCHEMA})
    system.config.write_text(yaml.safe_dump(config))
    procs.append(system.start("-m", "services.bus"))
    relay = start_relay(
        procs, relay_binary, system.data_dir, f"--bus={system.xsub}",
        schema=logicaltypes.SCHEMA, channel="logical", time_field=None,
    )  # fmt: skip
    sent = logicaltypes.RECORDS
    # All records in one datagram: one data.logical batch, whichever one tail hears first.
    gram = b"".join(encode_fastavro(logicaltypes.SCHEMA, r) for r in sent)
    tail = subprocess.Popen(
        [PY, "-m", "speeddata", "tail", "logical", "-n", str(len(sent)), "--timeout", "30"],
        env=system.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        while tail.poll() is None:  # until tail, subscribed at some point, printed a batch
            relay.send([gram])
            time.sleep(0.1)
        out, err = tail.communicate(timeout=10)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    assert tail.returncode == 0, err

    archived = relay.wait_archived(len(sent))
    relay.stop()
    assert len(archived) % len(sent) == 0
    assert _without_rx(archived) == sent * (len(archived) // len(sent))
    tailed = [json.loads(line) for line in out.splitlines()]
    as_json = [{k: v.hex() if isinstance(v, bytes) else v for k, v in r.items()} for r in sent]
    assert _without_rx(tailed) == as_json
    [rx_time] = {r["rx_time"] for r in tailed}  # one datagram: one receive time
    assert rx_time in {r["rx_time"] for r in archived}


def test_a_file_left_without_a_block_by_kill_9_is_removed_and_reported_at_start(
    relay_binary, procs, tmp_path
):
    data = tmp_path / "data"
    # A flush interval far beyond the test: the first record opens a file, writes its header
    # and keeps the record in the pending block, which kill -9 loses.
    first = start_relay(procs, relay_binary, data, flush_ms=60000)
    first.send([encode_fastavro(PROBE_SCHEMA, probe_record(0))])
    [opened] = wait_until(first.files, what="the relay opening a file")

    def header_end() -> int | None:
        try:
            with archive.open_archive(opened) as f:
                return f.header.header_end
        except archive.IncompleteHeader:
            return None

    size = wait_until(header_end, what="the file's header")
    first.proc.kill()
    with archive.open_archive(opened) as f:
        assert (f.record_count, f.size) == (0, size), "not a header-only file"

    second = start_relay(procs, relay_binary, data)
    repairs = events(second.proc, "archive_error")
    assert [(e["what"], e["path"], e["bytes"]) for e in repairs] == [
        ("repair", str(opened), str(size))
    ]
    assert "no complete block" in repairs[0]["detail"]
    assert not opened.exists()
    second.send([encode_fastavro(PROBE_SCHEMA, probe_record(1))])
    second.wait_archived(1)
    second.stop()
    [kept] = second.files()
    assert archive.parse_archive_name(kept.name).seq > archive.parse_archive_name(opened.name).seq
    assert _without_rx(archive.read_records(kept)) == [probe_record(1)]
