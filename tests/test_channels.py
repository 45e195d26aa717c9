import pytest

from speeddata.channels import multicast_endpoints
from speeddata.config import SettingsError, load_settings
from speeddata.schema import fingerprint, fingerprint_bytes


def test_fingerprint_test_vector_of_the_contract():
    assert fingerprint("int") == "8f5c393f1ad57572"
    assert fingerprint('"int"') == "8f5c393f1ad57572"
    assert fingerprint_bytes("int") == bytes.fromhex("8f5c393f1ad57572")


def test_fingerprint_ignores_docs_and_attributes():
    plain = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}
    rich = {
        "type": "record",
        "name": "r",
        "doc": "x",
        "fields": [{"name": "a", "type": "long", "doc": "y", "logicalType": "timestamp-nanos"}],
    }
    assert fingerprint(plain) == fingerprint(rich)
    assert fingerprint(plain) != fingerprint("long")


def test_default_multicast_endpoints_are_unique_and_outside_the_channel_range():
    s = load_settings(environ={})
    full, dec = multicast_endpoints(26000, s)
    assert (str(full), str(dec)) == ("239.1.1.1:36000", "239.1.1.2:37000")
    ports = {multicast_endpoints(p, s)[i].port for p in range(26000, 27000) for i in (0, 1)}
    assert len(ports) == 2000
    assert all(not 26000 <= p < 27000 for p in ports)


def test_environment_overrides_and_rejects_unknown_keys(tmp_path):
    s = load_settings(
        environ={"SPEEDDATA__RELAY__FLUSH_MS": "20", "SPEEDDATA_DATA_DIR": str(tmp_path)}
    )
    assert s.relay.flush_ms == 20
    assert s.data_dir == tmp_path.resolve()
    with pytest.raises(SettingsError, match="relay.nope"):
        load_settings(environ={"SPEEDDATA__RELAY__NOPE": "1"})
    assert s.override(relay={"flush_ms": 5}).relay.flush_ms == 5
