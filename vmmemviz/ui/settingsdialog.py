"""The settings dialog: ESXi advanced settings of the host and per-VM ``sched.mem.*`` settings.

Built from ``settings.HOST_SETTINGS`` / ``VM_SETTINGS`` (name -> default, type, range,
description), so a setting added there appears here. Values that differ from the
default are bold; ``changed_settings()`` returns only those. ``apply_settings_text`` writes
them into the scenario's TOML as compare Changes (``compare.apply_text``, round-trip): the
user's comments, quoting and layout stay as written. ``counter_changes`` says what a re-run
changed. "Compare with the current run" closes the dialog with ``COMPARE``.
"""
from __future__ import annotations

import html

import numpy as np
import tomlkit
from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Qt

from vmmemviz.errors import InputError
from vmmemviz.model.config import compare as C
from vmmemviz.model.core import events as E
from vmmemviz.model.config import scenario as SC
from vmmemviz.model.config import settings as S
from .counters import counter_name
from .eventlist import mono_font

INT_MAX = 2 ** 31 - 1
COMPARE = 2             # the dialog's result when "Compare with the current run" closed it
UNSET = "unset"


def range_text(default, typ, rng) -> str:
    if typ is bool:
        return "true / false"
    if typ is str:
        return " / ".join(rng)
    text = f"{rng[0]:,} – {rng[1]:,}" if rng else "any integer"
    return text + (", or unset" if default is None else "")


def setting_change(key: str, value, vm: str | None = None) -> C.Change:
    """One setting as a compare Change (``vm``: that VM's ``[vm.settings]``; value None unsets)."""
    raw = "" if value is None else tomlkit.item(value).as_string()
    return C.Change(f"{key}={raw}" if vm is None else f"vm[{vm}].{key}={raw}",
                    "settings" if vm is None else "vm.settings", key, value, vm or "*")


def dialog_changes(host: dict, vms: dict) -> list[C.Change]:
    """The dialog's values (``host``, ``{VM: settings}``) as compare Changes."""
    return [setting_change(k, v) for k, v in host.items()] + \
        [setting_change(k, v, name) for name, values in vms.items() for k, v in values.items()]


def apply_settings_text(text: str, host: dict, vms: dict, src: str = "<scenario>") -> str:
    """The scenario text with host settings set in ``[settings]`` and VM ones in each VM's
    ``[vm.settings]`` (through :func:`compare.apply_text`); a value of None removes the key.
    Everything else is kept as written. Raises InputError when the text is not TOML or the
    result is not a valid scenario."""
    out = C.apply_text(text, dialog_changes(host, vms), src)
    sc = SC.parse(out, src)          # the result must still be a valid scenario with those values
    wrong = [k for k, v in host.items() if sc.settings.get(k) != v]
    wrong += [f"{vm.name} {k}" for vm in sc.vms for k, v in vms.get(vm.name, {}).items()
              if vm.settings.get(k) != v]
    if wrong:
        raise InputError(f"{src}: could not set {', '.join(wrong)} in the scenario file "
                         "(is a [settings] table written in an unusual form?)")
    return out


def changed_from(sc, host: dict, vms: dict) -> list[C.Change]:
    """The dialog's values that differ from scenario ``sc``'s settings, as compare Changes
    (a setting ``sc`` sets and the dialog lacks goes back to its default)."""
    full = {**{k: None for k in sc.settings}, **host}
    out = [setting_change(k, v) for k, v in full.items() if sc.settings.get(k) != v]
    for vm in sc.vms:
        new = {**{k: None for k in vm.settings}, **vms.get(vm.name, {})}
        out += [setting_change(k, v, vm.name) for k, v in new.items() if vm.settings.get(k) != v]
    return out


def settings_changes(sc, host: dict, vms: dict) -> list[str]:
    """What setting the dialog's values (``host``, ``{VM: settings}``) to scenario ``sc`` changes,
    in words ("Mem.IdleTax = 0", "web01 sched.mem.maxmemctl back to its default")."""
    def words(c: C.Change) -> str:
        who = f"{c.vm} " if c.table == "vm.settings" else ""
        return f"{who}{c.key} back to its default" if c.value is None else f"{who}{c.key} = {c.value}"
    return [words(c) for c in changed_from(sc, host, vms)]


def _numbers(counters: dict) -> dict:
    """{(VM or "host", counter): value} of a Frame's counters."""
    out = {("host", k): v for k, v in counters.get("host", {}).items()}
    for vm, c in counters.get("vms", {}).items():
        out.update({(vm, k): v for k, v in c.items()})
    return out


def counter_changes(before: dict, after: dict, n: int = 6) -> list[tuple[str, str, object, object]]:
    """The ``n`` counters that changed most between two Frames' counters, as (VM or "host",
    counter, before, after): numbers by relative change (ties: the larger change), and a
    changed state or flag first."""
    a, b = _numbers(before), _numbers(after)
    scored = []
    for key in a.keys() & b.keys():
        x, y = a[key], b[key]
        if x == y:
            continue
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            d = abs(y - x)
            scored.append((d / max(abs(x), abs(y)), d, key, x, y))
        else:
            scored.append((2.0, 0.0, key, x, y))          # "state high -> soft" says most
    scored.sort(key=lambda t: (-t[0], -t[1], t[2]))
    return [(k[0], k[1], x, y) for _, _, k, x, y in scored[:n]]


def first_difference(old, new) -> int | None:
    """The index of the first event two runs' logs (LogSnapshots) disagree on, as far as both
    go; None when they agree that far."""
    n = min(len(old), len(new))
    step = 1 << 16
    for a in range(0, n, step):
        diff = np.flatnonzero(old.rows(a, min(n, a + step)) != new.rows(a, min(n, a + step)))
        if len(diff):
            return a + int(diff[0])
    return None


def changes_html(settings: list[str], changes, pos: int, old_log=None, new_log=None, names=()) -> str:
    """What a settings change did, for the window's message strip: the counters that changed
    most at the position shown, and the first event where the two runs part."""
    def show(v):
        return f"{v:,.2f}" if isinstance(v, float) else html.escape(str(v))
    out = f"Re-ran with {html.escape(', '.join(settings))}. "
    if changes:
        out += f"At event {pos:,}, before → after: " + "; ".join(
            f"<b>{html.escape(counter_name(who, k))}</b> {show(x)} → <b>{show(y)}</b>" for who, k, x, y in changes)
    else:
        out += f"At event {pos:,} no counter changed."
    if old_log is not None and new_log is not None:
        i = first_difference(old_log, new_log)
        if i is None:
            out += f" The two runs agree on their first {min(len(old_log), len(new_log)):,} events."
        else:
            row = new_log[i]
            out += (f" They part at event {i + 1:,} (t = {int(row['tick'])} s): "
                    f"{html.escape(E.narrate(row, list(names)))}")
    return out


class SettingEditor(QtWidgets.QWidget):
    """The editor for one setting's type: check box, choice, or a number (``unset`` when nullable)."""

    changed = QtCore.Signal()

    def __init__(self, default, typ, rng, parent=None):
        super().__init__(parent)
        self.default, self.typ = default, typ
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(2, 0, 2, 0)
        if typ is bool:
            self.w = QtWidgets.QCheckBox()
            self.w.toggled.connect(self.changed)
        elif typ is str:
            self.w = QtWidgets.QComboBox()
            self.w.addItems(list(rng))
            self.w.currentIndexChanged.connect(self.changed)
        else:
            self.w = QtWidgets.QDoubleSpinBox() if typ is float else QtWidgets.QSpinBox()
            lo, hi = rng if rng else (-INT_MAX, INT_MAX)
            if default is None:          # nullable: one step below the range means "unset"
                lo -= 1
                self.w.setSpecialValueText(UNSET)
            self.w.setRange(lo, hi)
            self.w.setAccelerated(True)
            self.w.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.w.setMinimumWidth(110)
            self.w.valueChanged.connect(self.changed)
        lay.addWidget(self.w)
        lay.addStretch(1)

    def value(self):
        if self.typ is bool:
            return self.w.isChecked()
        if self.typ is str:
            return self.w.currentText()
        v = self.w.value()
        if self.default is None and v == self.w.minimum():
            return None
        return float(v) if self.typ is float else int(v)

    def set_value(self, v) -> None:
        if self.typ is bool:
            self.w.setChecked(bool(v))
        elif self.typ is str:
            self.w.setCurrentText(str(v))
        else:
            self.w.setValue(self.w.minimum() if v is None else v)


class SettingsTree(QtWidgets.QTreeWidget):
    """Settings by group (a prefix such as ``Mem`` or a VM name): name, value, default, description."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setColumnCount(4)
        self.setHeaderLabels(["Setting", "Value", "Default", "Description"])
        self.setRootIsDecorated(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.editors: dict[tuple[str, str], tuple[QtWidgets.QTreeWidgetItem, SettingEditor]] = {}
        self.headerItem().setToolTip(0, "The name as in ESXi (Host > Configure > Advanced System "
                                        "Settings, or the VM's .vmx) and in scenario files")
        self.headerItem().setToolTip(2, "The value when the scenario does not set it")

    def add(self, group: str, table: dict, values: dict, group_tip: str) -> None:
        top = QtWidgets.QTreeWidgetItem([group])
        f = top.font(0)
        f.setBold(True)
        top.setFont(0, f)
        top.setToolTip(0, group_tip)
        top.setFirstColumnSpanned(True)
        self.addTopLevelItem(top)
        mono = mono_font()
        for name, (default, typ, rng, desc) in table.items():
            item = QtWidgets.QTreeWidgetItem(top, [name, "", show_value(default), desc])
            item.setFont(0, mono)
            tip = f"{name}: {desc}\nDefault: {show_value(default)}. Range: {range_text(default, typ, rng)}."
            for col in range(4):
                item.setToolTip(col, tip)
            ed = SettingEditor(default, typ, rng)
            ed.setToolTip(tip)
            ed.set_value(values.get(name, default))
            ed.changed.connect(lambda it=item, e=ed: self._mark(it, e))
            self.setItemWidget(item, 1, ed)
            item.setSizeHint(1, ed.sizeHint())
            self.editors[(group, name)] = (item, ed)
            self._mark(item, ed)
        top.setExpanded(True)

    def _mark(self, item, ed) -> None:
        changed = ed.value() != ed.default
        f = item.font(0)
        f.setBold(changed)
        item.setFont(0, f)
        f = ed.w.font()
        f.setBold(changed)
        ed.w.setFont(f)

    def values(self, group: str) -> dict:
        """Settings of ``group`` that differ from their defaults."""
        return {name: ed.value() for (g, name), (_, ed) in self.editors.items()
                if g == group and ed.value() != ed.default}

    def reset(self) -> None:
        for item, ed in self.editors.values():
            ed.set_value(ed.default)

    def filter(self, text: str) -> None:
        text = text.strip().lower()
        for i in range(self.topLevelItemCount()):
            top = self.topLevelItem(i)
            shown = 0
            for j in range(top.childCount()):
                it = top.child(j)
                hit = not text or text in it.text(0).lower() or text in it.text(3).lower()
                it.setHidden(not hit)
                shown += hit
            top.setHidden(shown == 0)


def show_value(v) -> str:
    """A setting's value as the scenario file spells it (unset for none)."""
    return UNSET if v is None else str(v).lower() if isinstance(v, bool) else str(v)


class SettingsDialog(QtWidgets.QDialog):
    def __init__(self, scenario, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Settings — {scenario.name}")
        self.vm_names = [vm.name for vm in scenario.vms]

        self.host = SettingsTree()
        prefixes: dict[str, dict] = {}
        for name, entry in S.HOST_SETTINGS.items():
            prefixes.setdefault(name.split(".")[0], {})[name] = entry
        tips = {"Mem": "ESXi advanced settings of the memory scheduler (Mem.*)",
                "LPage": "ESXi advanced settings of large pages (LPage.*)",
                "Sim": "vmmemviz's own settings: how the simulation runs (not ESXi knobs)"}
        for prefix, table in prefixes.items():
            self.host.add(prefix, table, scenario.settings, tips.get(prefix, f"{prefix}.* settings"))
        self.vms = SettingsTree()
        for vm in scenario.vms:
            self.vms.add(vm.name, S.VM_SETTINGS, vm.settings,
                         f"Settings of VM {vm.name} (its .vmx: sched.mem.*)")

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.host, "Host: advanced settings")
        self.tabs.setTabToolTip(0, "ESXi advanced settings (Mem.*, LPage.*) and the simulation's (Sim.*)")
        self.tabs.addTab(self.vms, "Virtual machines")
        self.tabs.setTabToolTip(1, "Per-VM settings (sched.mem.*), as in each VM's .vmx file")
        for tree in (self.host, self.vms):
            tree.header().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
            tree.header().setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
            tree.header().setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)

        self.search = QtWidgets.QLineEdit()
        self.search.setPlaceholderText("Filter settings…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Show only settings whose name or description contains this text")
        self.search.textChanged.connect(self.host.filter)
        self.search.textChanged.connect(self.vms.filter)
        note = QtWidgets.QLabel("Bold: differs from its default; only those settings are written "
                                "into the scenario file. Hover a setting for its range.")
        note.setWordWrap(True)

        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel
            | QtWidgets.QDialogButtonBox.StandardButton.RestoreDefaults)
        self.reset_button = buttons.button(QtWidgets.QDialogButtonBox.StandardButton.RestoreDefaults)
        self.reset_button.setText("Reset to defaults")
        self.reset_button.setToolTip("Set every host and VM setting back to its default")
        self.reset_button.clicked.connect(self.reset)
        self.compare_button = buttons.addButton("Compare with the current run",
                                                QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        self.compare_button.setToolTip("Run these settings as run B beside the current run (A) in one "
                                       "window, aligned by simulated time; the current run stays as it is "
                                       "(File > Close comparison, Ctrl+Shift+W, goes back to one run)")
        self.compare_button.clicked.connect(lambda: self.done(COMPARE))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.search)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(note)
        lay.addWidget(buttons)
        self.resize(980, 560)

    def reset(self) -> None:
        self.host.reset()
        self.vms.reset()

    def changed_settings(self) -> tuple[dict, dict]:
        """(host settings, {VM name: settings}): every value that differs from its default."""
        hosts = {}
        for i in range(self.host.topLevelItemCount()):
            hosts.update(self.host.values(self.host.topLevelItem(i).text(0)))
        return hosts, {name: self.vms.values(name) for name in self.vm_names}
