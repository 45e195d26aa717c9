"""A custom tool on the bus: print each relay's rate and drops as its status arrives.

Run it next to `sdctl up` (it reads the same settings):  python examples/custom_subscriber.py
A joining subscriber gets every channel's latest status at once from the bus cache.
The bus drops what a slow reader cannot take, for that reader only: a Subscriber counts its
losses from the gaps in each source's seq (`sub.lost`, `sub.lost_by_source()`, `on_gap=`) for
the sources whose every topic it subscribes to (a relay's seq also counts its data events)."""

from speeddata.bus import subscribe

for event in subscribe("relay.status"):
    s = event.fields
    dropped = s["kernel_drops"] + sum(s["rejected"].values()) + s["unarchived"]
    print(f"{s['channel']:>16} {s['state']:>9} {s['rate']:9.1f}/s  dropped {dropped}")
