"""The interop matrix: client x method → ok, or failed and why, printed at the end of pytest.

Tests feed it through the `interop` marker: `@pytest.mark.interop("GetWarmPool")` files the
test's result under that column, for the client in the test's `client` parameter (or the
marker's `client=` keyword). A cell is ok when every test filed under it passed; a cell with
no test shows "-". A method of the service with no test filed under it for any client gets no
column; it is listed below the table as not covered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.interop.plan import PREBUILD_METHODS, WARM_POOL_METHODS

ERRORS = "errors"  # error paths, observed as the client's own errors
SCHEMA = "schema"  # reflection, descriptors, code generation
_WIDTH_LIMIT = 160


@dataclass
class Cell:
    passed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (test, why)

    def render(self) -> str:
        if not self.passed and not self.failed:
            return "-"
        if self.failed:
            return f"FAILED {len(self.failed)}/{len(self.passed) + len(self.failed)}"
        return f"ok ({len(self.passed)})"


@dataclass
class Matrix:
    clients: list[str]
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)

    def record(self, client: str, column: str, test: str, why: str | None) -> None:
        if client not in self.clients:
            self.clients.append(client)
        cell = self.cells.setdefault((client, column), Cell())
        if why is None:
            cell.passed.append(test)
        else:
            cell.failed.append((test, why))

    def columns(self) -> list[str]:
        used = {column for _, column in self.cells}
        methods = [m for m in (*WARM_POOL_METHODS, *PREBUILD_METHODS) if m in used]
        extras = sorted(used - set(methods) - {ERRORS, SCHEMA})
        return [*methods, *extras, *(c for c in (ERRORS, SCHEMA) if c in used)]

    @property
    def all_ok(self) -> bool:
        return bool(self.cells) and all(not c.failed for c in self.cells.values())

    def render(self) -> list[str]:
        columns = self.columns()
        header = ["client", *columns]
        rows = [
            [client, *(self.cells.get((client, c), Cell()).render() for c in columns)]
            for client in self.clients
            if any((client, c) in self.cells for c in columns)
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            return "  ".join(v.ljust(w) for v, w in zip(cells, widths, strict=True)).rstrip()

        checks = sum(len(c.passed) + len(c.failed) for c in self.cells.values())
        verdict = "all ok" if self.all_ok else "FAILURES"
        out = [
            f"interop matrix: client x method — {verdict} "
            f"({checks} checks; 'ok (n)': all n checks of the cell passed)",
            line(header),
            line(["-" * w for w in widths]),
            *(line(r) for r in rows),
        ]
        missing = [m for m in (*WARM_POOL_METHODS, *PREBUILD_METHODS) if m not in columns]
        if missing:
            out.append(
                "not covered (no check filed under the method; add plan steps and tests): "
                + ", ".join(missing)
            )
        for (client, column), cell in self.cells.items():
            for test, why in cell.failed:
                out.append(f"FAILED {client} x {column}: {test}: {why}"[:_WIDTH_LIMIT])
        return out
