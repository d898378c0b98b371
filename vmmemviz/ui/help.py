"""F1 help: an event kind explained by the guide it illustrates, the ESXi facts and the knobs.

``show_help(kind_name, parent)`` opens a browser of pages: the kind's own page (its help,
the guide's paragraphs quoted from ``resources/guide.txt``, the ESXi facts, the settings
and esxtop counters behind it), an overview, and every section of the guide, so every
paragraph of the guide can be read in the app. Sections are found by the paragraph they
start with; kinds map to them by the section their help names, else by their group.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

from vmmemviz.model.core import events as E
from vmmemviz.model.config import settings as S
from .counters import VM_COUNTERS
from .eventlist import chip, group_colour, groups
from .settingsdialog import range_text, show_value
from vmmemviz.assets import asset

GUIDE = asset("guide.txt")
EPILOGUE = "Comments are closed"          # the blog post's footer: shown with the title, not a section
FIGURE_NOTE = ("The guide's figure is not reproduced here: the layer view draws the same thing, "
               "live, for the scenario you are running.")


@dataclass(frozen=True)
class Section:
    title: str
    start: str             # the guide paragraph the section begins with
    names: tuple           # how kinds' help texts name it ("Ballooning: ...")
    groups: tuple          # event groups it explains
    settings: tuple        # substrings of the names of the settings behind it
    counters: tuple        # esxtop counters that show it
    facts: tuple           # ESXi facts stated in full, one sentence each (with the source where it matters)


SECTIONS = (
    Section("Memory Virtualisation Basics", "Memory Virtualisation Basics", ("memory virtualisation basics",),
            (), (), ("MEMSZ", "GRANT"),
            ("Three layers: guest virtual pages (GVPN, what an application sees), guest physical pages "
             "(GPPN, what the guest OS thinks is RAM) and machine pages (MPN, the host's RAM frames).",
             "Page numbers are shown in hex, as ESXi's tools show them.")),
    Section("Memory Terminology", "Memory Terminology", ("memory terminology",), (), (), (),
            ("Guest virtual memory = GVPN, guest physical memory = GPPN, host physical (machine) "
             "memory = MPN in vmmemviz's views and narrations.",)),
    Section("Hypervisor Memory Management", "Memory Management",
            ("hypervisor memory management", "the virtual machine monitor"), ("core", "access"),
            ("AllocGuestLargePage",), ("OVHD", "TLB_HITS", "TLB_MISSES", "WALK_REFS", "WALK/MISS", "VM_EXITS"),
            ("The VMM keeps a PMAP per VM (GPPN -> MPN) and, with a software MMU, shadow page tables "
             "(GVPN -> MPN) that the hardware walks.",
             "A TLB miss costs 4 memory references on a shadow table, but up to (4+1)(4+1)-1 = 24 with "
             "4-level guest and 4-level nested (EPT/NPT) tables (Bhargava et al., ASPLOS 2008).",
             "A software MMU pays a VM exit to re-sync the shadow table on every guest page-table update; "
             "this is why ESXi backs guests with 2 MB pages on a hardware MMU.")),
    Section("Application Memory Management", "Application Memory Management",
            ("application memory management",), (), (), (),
            ("An application starts with no memory, gets it by a system call and frees it voluntarily.",)),
    Section("Operating System Memory Management", "Operating System Memory Management",
            ("operating system memory management", "real guest memory"), ("guest",), (), (),
            ("The guest OS keeps a free list and an allocated list of guest physical pages; it has no "
             "interface to give memory back, so the host cannot tell free guest pages from used ones "
             "without the balloon.",)),
    Section("Virtual Machine Memory Allocation", "Virtual Machine Memory Allocation",
            ("virtual machine memory allocation",), (), ("SamplePeriod",), ("GRANT", "TCHD", "%ACTV"),
            ("A VM starts with no machine memory; the hypervisor backs a GPPN on first touch.",
             "Windows-style guests zero all their memory at boot; Linux-style guests touch it lazily.",
             "Active memory is estimated every Mem.SamplePeriod seconds from a random sample of 100 pages.")),
    Section("Memory Reclamation", "Memory Reclamation", ("memory reclamation", "active memory"), ("state",),
            ("MinFree", "StateModel", "IdleTax"), ("SZTGT", "%ACTV"),
            ("minFree (ESXi 5+): 6% of the first 4 GB of managed memory, 4% of 4-12 GB, 2% of 12-28 GB and "
             "1% of the rest (8043 MB managed -> 403 MB); Mem.MemMinFreePct = 0 selects this scale.",
             "Host states by free memory: high above 100% of minFree (below 400% large pages become break "
             "candidates), clear below 100% (break large pages, TPS called actively), soft below 64% "
             "(TPS + ballooning), hard below 32% (TPS + compression + swapping, ballooning stops), low below "
             "16% (compression + swapping; VMs above target are blocked). A state is left upward only "
             "with some margin (hysteresis).",
             "ESX 4 used fixed 6/4/2/1% of memory for high/soft/hard/low (Sim.StateModel = esx4).",
             "Who gives memory back: the VM with the fewest shares per page, rho = S / (P (f + k(1 - f))), "
             "k = 1/(1 - tau), tau = Mem.IdleTax = 75% (Waldspurger 2002).")),
    Section("Transparent Page Sharing (TPS)", "Transparent Page Sharing (TPS)",
            ("transparent page sharing", "large pages"), ("tps", "lpage"),
            ("Share", "pshare", "LPage", "LargePage", "TimeScale", "HostGHz"),
            ("ZERO", "SHRD", "SHRDSVD", "COWH", "COW/s", "LPAGE"),
            ("A page is hashed; on a hash hit the whole page is compared, then both GPPNs map one read-only "
             "MPN with a reference count. A write to it is a copy-on-write fault (COW break).",
             "Scanning is random within a VM and rate limited: Mem.ShareScanTime 60 min per VM, "
             "Mem.ShareScanGHz 4 MB/s per GHz, Mem.ShareRateMax 1024 pages/s.",
             "Salting (KB 2080735, 2097593): Mem.ShareForceSalting 2 (default since 6.0U3) shares only inside "
             "a VM; 0 shares across all VMs; sched.mem.pshare.enable = FALSE turns TPS off for a VM.",
             "Most early savings are zero pages: a Windows guest zeroes its memory at boot and all of it "
             "collapses onto one shared zero MPN.",
             "A 2 MB page is not shared, but ESXi keeps 4 KB hashes of its sub-pages; under contention it is "
             "broken into 512 small pages that TPS can then share at once (LPage.MaxSharedPages 510).")),
    Section("Ballooning", "An ESXi host has no idea how much memory", ("ballooning",), ("balloon",),
            ("CtlMax", "maxmemctl", "Balloon"),
            ("MCTL?", "MCTLSZ", "MCTLTGT", "MCTLMAX", "GSWCUR"),
            ("Needs VMware Tools (the vmmemctl driver); the driver polls its target once a second.",
             "Inflating, the driver allocates guest pages and pins them; the guest gives free pages first "
             "and, with none left, pages its own applications out (guest-level paging). The hypervisor "
             "unmaps the pinned GPPNs and frees their MPNs.",
             "Limit: Mem.CtlMaxPercent = 65% of the VM's memory, or sched.mem.maxmemctl (MB).",
             "Waldspurger measured 4.4% slowdown with a 128 MB balloon, 1.4% with 32 MB, on a 256 MB "
             "Linux VM running dbench.")),
    Section("Hypervisor swapping", "The memory transfer between guest physical memory and the host swap device",
            ("hypervisor swapping", "guest-level paging"), ("swap",), ("Swap",),
            ("SWCUR", "SWTGT", "SWR/s", "SWW/s", "GSWR/s", "GSWW/s"),
            ("Each VM has a swap file (.vswp) of its configured memory minus its reservation.",
             "Victim pages are chosen at random: the hypervisor does not know what the guest uses them for, "
             "so it may swap out active pages; a later access faults and swaps the page back in (SWR/s).",
             "Share before swap: a page about to be swapped is first checked for sharing.")),
    Section("Memory compression", "Memory compression works by", ("memory compression",), ("zip",), ("Zip",),
            ("CACHESZ", "CACHEUSD", "ZIP/s", "UNZIP/s"),
            ("Mem.MemZipEnable = 1: only pages already chosen for swapping are considered.",
             "A page is kept compressed only if it compresses to 2 KB or less (at least 50%); better than "
             "75% goes into a 1 KB slot. Otherwise it goes to the swap file. vmmemviz compresses the page's "
             "real bytes with LZ4.",
             "The cache is Mem.MemZipMaxPct = 10% of the VM's memory; when full, the oldest compressed page is "
             "decompressed and swapped out.",
             "Reading a compressed page decompresses it into a fresh MPN (UNZIP/s).")),
)


@dataclass
class Guide:
    front: list          # paragraphs before the first section (title, byline)
    sections: list       # per SECTIONS entry: its paragraphs
    epilogue: list       # the post's footer


@lru_cache(maxsize=1)
def guide() -> Guide:
    """The guide split into SECTIONS (one paragraph per non-empty line of guide.txt)."""
    paras = [p.strip() for p in GUIDE.read_text(encoding="utf-8").splitlines() if p.strip()]
    starts = []
    for s in SECTIONS:
        i = next(i for i, p in enumerate(paras) if p.startswith(s.start) and i >= (starts[-1] + 1 if starts else 0))
        starts.append(i)
    end = next((i for i, p in enumerate(paras) if p.startswith(EPILOGUE)), len(paras))
    bounds = starts + [end]
    return Guide(front=paras[:starts[0]], sections=[paras[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
                 epilogue=paras[end:])


def sections_of(kind: E.Kind) -> list[int]:
    """Indices of the sections a kind illustrates: the one its help names, then its group's."""
    named = kind.help.split(":", 1)[0].lower() if ":" in kind.help else kind.help.lower()
    out = [i for i, s in enumerate(SECTIONS) if any(named.startswith(n) for n in s.names)]
    out += [i for i, s in enumerate(SECTIONS) if kind.group in s.groups and i not in out]
    return out or [0]


# -- HTML --------------------------------------------------------------------------------
def _is_heading(p: str) -> bool:
    return len(p) < 60 and not p.endswith((".", ":")) and not p.startswith("•")


def quote(paras: list, colour: str) -> str:
    """Guide paragraphs, verbatim, beside a bar of ``colour``."""
    body = []
    for p in paras:
        text = html.escape(p)
        if p.startswith("•"):
            body.append(f"<p style='margin-left:18px'>{text}</p>")
        elif _is_heading(p):
            body.append(f"<p><b>{text}</b></p>")
        else:
            body.append(f"<p>{text}</p>")
        if any(w in p.lower() for w in ("following diagram", "figure below", "see below")):
            body.append(f"<p><i>[{html.escape(FIGURE_NOTE)}]</i></p>")
    return (f"<table cellspacing=0 cellpadding=6 width='100%'><tr><td width=4 bgcolor='{colour}'></td>"
            f"<td>{''.join(body)}</td></tr></table>")


def _settings_html(sec: Section) -> str:
    rows = []
    for table in (S.HOST_SETTINGS, S.VM_SETTINGS):
        for name, (default, typ, rng, desc) in table.items():
            if any(k.lower() in name.lower() for k in sec.settings):
                nowrap = "<td style='white-space:pre'>"
                rows.append(f"<tr>{nowrap}<code>{html.escape(name)}</code></td>"
                            f"<td>{html.escape(show_value(default))}</td>"
                            f"{nowrap}{html.escape(range_text(default, typ, rng))}</td>"
                            f"<td>{html.escape(desc)}</td></tr>")
    if not rows:
        return ""
    return ("<h3>Settings</h3><table cellspacing=0 cellpadding=3><tr><th align=left>name</th>"
            "<th align=left>default</th><th align=left>range</th><th align=left>what it does</th></tr>"
            + "".join(rows) + "</table>")


def _counters_html(sec: Section) -> str:
    if not sec.counters:
        return ""
    items = "".join(f"<li><code>{html.escape(c)}</code>: {html.escape(VM_COUNTERS[c][2].split(': ', 1)[1])}</li>"
                    for c in sec.counters)
    return f"<h3>esxtop counters (counters panel)</h3><ul>{items}</ul>"


def _kinds_html(kinds) -> str:
    items = "".join(f"<li><a href='kind:{k.name}'><b>{k.name}</b></a> "
                    f"<span style='color:{group_colour(k.group)}'>&#9632;</span> {html.escape(k.group)}: "
                    f"{html.escape(k.help)}</li>" for k in kinds)
    return f"<h3>Events that show it</h3><ul>{items}</ul>" if kinds else ""


def section_html(i: int) -> str:
    sec = SECTIONS[i]
    kinds = [k for k in E.KINDS.values() if i in sections_of(k)]
    colour = group_colour(sec.groups[0]) if sec.groups else "#0072B2"
    facts = "".join(f"<li>{html.escape(f)}</li>" for f in sec.facts)
    return (f"<h2>{html.escape(sec.title)}</h2><h3>The guide</h3>{quote(guide().sections[i], colour)}"
            f"<h3>ESXi facts</h3><ul>{facts}</ul>{_settings_html(sec)}{_counters_html(sec)}{_kinds_html(kinds)}")


def kind_html(kind: E.Kind) -> str:
    secs = sections_of(kind)
    links = ", ".join(f"<a href='section:{i}'>{html.escape(SECTIONS[i].title)}</a>" for i in secs)
    out = [f"<h2><span style='color:{group_colour(kind.group)}'>&#9632;</span> {kind.name} "
           f"<small>({html.escape(kind.group)} event)</small></h2><p>{html.escape(kind.help)}</p>",
           f"<p>In the guide: {links}.</p>"]
    for i in secs:
        sec = SECTIONS[i]
        facts = "".join(f"<li>{html.escape(f)}</li>" for f in sec.facts)
        out.append(f"<h3>The guide: {html.escape(sec.title)}</h3>{quote(guide().sections[i], group_colour(kind.group))}"
                   f"<h3>ESXi facts</h3><ul>{facts}</ul>{_settings_html(sec)}{_counters_html(sec)}")
    return "".join(out)


def overview_html() -> str:
    g = guide()
    toc = "".join(f"<li><a href='section:{i}'>{html.escape(s.title)}</a></li>" for i, s in enumerate(SECTIONS))
    by_group = "".join(
        f"<li><span style='color:{group_colour(grp)}'>&#9632;</span> <b>{html.escape(grp)}</b>: "
        + ", ".join(f"<a href='kind:{k.name}'>{k.name}</a>" for k in E.KINDS.values() if k.group == grp)
        + "</li>" for grp in groups() if any(k.group == grp for k in E.KINDS.values()))
    return ("<h2>vmmemviz help</h2><p>vmmemviz simulates how an ESXi-like hypervisor manages memory and draws "
            "every layer as a grid of pages. Each step is one event; press <b>F1</b> on an event to read "
            "the part of the guide it illustrates, the ESXi facts behind it and the settings that change it."
            "</p><h3>The guide</h3>" + quote(g.front, "#0072B2")
            + "<p>The guide is a blog post of 2013, quoted here in full, section by section. Where today's "
              "ESXi differs (salting, the clear state), the ESXi facts under each section say so.</p>"
            + f"<ul>{toc}</ul>"
            + "".join(f"<p><small>The post ends: <i>{html.escape(p)}</i></small></p>" for p in g.epilogue)
            + f"<h3>Event kinds by group</h3><ul>{by_group}</ul>")


# -- the dialog --------------------------------------------------------------------------
class HelpDialog(QtWidgets.QDialog):
    """A list of pages (the event's, the overview, every guide section) beside a browser."""

    def __init__(self, kind_name: str | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("vmmemviz help")
        self.pages: list[tuple[str, str]] = []       # (title, html)
        kind = E.BY_NAME.get(kind_name) if kind_name else None
        if kind is not None:
            self.pages.append((f"Event: {kind.name}", kind_html(kind)))
        self.pages.append(("Overview", overview_html()))
        self.pages += [(s.title, section_html(i)) for i, s in enumerate(SECTIONS)]

        self.list = QtWidgets.QListWidget()
        self.list.setToolTip("Pages of the help: the current event, an overview and every section of the guide")
        for title, _ in self.pages:
            it = QtWidgets.QListWidgetItem(title)
            if title.startswith("Event: "):
                it.setIcon(chip(kind.group))
                f = it.font()
                f.setBold(True)
                it.setFont(f)
            self.list.addItem(it)
        self.list.setStyleSheet("QListWidget::item { padding: 3px 4px; }")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMinimumWidth(self.list.sizeHintForColumn(0) + 36)
        self.list.setMaximumWidth(self.list.minimumWidth())
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._follow)
        self.list.currentRowChanged.connect(self._show)
        split = QtWidgets.QSplitter()
        split.addWidget(self.list)
        split.addWidget(self.browser)
        split.setStretchFactor(1, 1)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(split, 1)
        lay.addWidget(buttons)
        self.resize(980, 680)
        self.list.setCurrentRow(0)

    def _show(self, row: int) -> None:
        if 0 <= row < len(self.pages):
            self.browser.setHtml(self.pages[row][1])

    def _follow(self, url: QtCore.QUrl) -> None:
        what, _, arg = url.toString().partition(":")
        if what == "section":
            self.list.setCurrentRow(self._row_of(SECTIONS[int(arg)].title))
        elif what == "kind" and arg in E.BY_NAME:
            self.browser.setHtml(kind_html(E.BY_NAME[arg]))
            self.list.clearSelection()
        elif url.scheme() in ("http", "https"):
            QtGui.QDesktopServices.openUrl(url)

    def _row_of(self, title: str) -> int:
        return next(i for i, (t, _) in enumerate(self.pages) if t == title)


def show_help(kind_name: str | None, parent=None) -> HelpDialog:
    """Open the help on ``kind_name`` (an event kind's NAME), or the overview; returns the window."""
    d = HelpDialog(kind_name, parent)
    d.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    old = [w for w in parent.findChildren(HelpDialog) if w is not d and w.isVisible()] if parent else []
    if old:                                   # one help window: the new one takes the old one's place
        d.setGeometry(old[0].geometry())
        for w in old:
            w.close()
    d.show()
    return d
