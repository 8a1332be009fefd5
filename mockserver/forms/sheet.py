"""The drawing kit the two forms share: page frame, test marks, section bars, boxed fields, tables.

A `Sheet` wraps one reportlab canvas and a cursor `y` that moves down the page. Only reportlab's
built-in Type 1 fonts are used, so nothing is loaded from disk. Every page carries the test mark
three times: a banner at the top, a line in the footer and a translucent diagonal watermark.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from reportlab import rl_config
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

# The lightest settings that keep the forms' content identical: page streams Flate-compressed without the
# ASCII85 layer (binary streams are fine in PDF; 14% smaller files, less to encode), and reportlab's C
# accelerator (the `rl_accel` package, a dependency) for string widths and number formatting.
rl_config.useA85 = 0

TEST_MARK = "TEST \u2014 NOT A GOVERNMENT FORM"

PAGE_WIDTH, PAGE_HEIGHT = letter
MARGIN = 36.0
LEFT = MARGIN
RIGHT = PAGE_WIDTH - MARGIN
WIDTH = RIGHT - LEFT
TOP = PAGE_HEIGHT - MARGIN  # top of the banner
CONTENT_TOP = TOP - 26.0  # first line below the banner
BOTTOM = MARGIN + 22.0  # content stops above the footer

FONT = "Helvetica"
BOLD = "Helvetica-Bold"
OBLIQUE = "Helvetica-Oblique"

INK = HexColor("#1a1a1a")
LABEL = HexColor("#555555")
RULE = HexColor("#6b7785")
SECTION = HexColor("#1f3a5f")
SHADE = HexColor("#e8edf3")
ALERT = HexColor("#b3261e")
WATERMARK = Color(0.70, 0.15, 0.12, alpha=0.10)
WATERMARK_ANGLE = math.degrees(math.atan2(PAGE_HEIGHT, PAGE_WIDTH))  # along the page's diagonal
WATERMARK_SIZE = 40.0

LABEL_SIZE = 6.2
VALUE_SIZE = 9.5
MIN_VALUE_SIZE = 6.5
ROW_HEIGHT = 24.0
SECTION_HEIGHT = 14.0
TABLE_ROW = 13.0
SECTION_GAP = 5.0

Cell = tuple[str, str, float]  # label, value, relative width


def fit(value: str, font: str, size: float, width: float, min_size: float = MIN_VALUE_SIZE) -> tuple[str, float]:
    """Shrink `value` down to `min_size` to fit `width`, then cut it with an ellipsis."""
    while size > min_size and stringWidth(value, font, size) > width:
        size = max(min_size, size - 0.5)
    if stringWidth(value, font, size) <= width:
        return value, size
    while value and stringWidth(value + "\u2026", font, size) > width:
        value = value[:-1]
    return value + "\u2026", size


class Sheet:
    """One PDF document under construction, page by page, top to bottom."""

    def __init__(self, *, title: str, subject: str, running_head: str) -> None:
        self._buffer = io.BytesIO()
        self.c = canvas.Canvas(self._buffer, pagesize=letter, invariant=1, pageCompression=1)
        self.c.setTitle(title)
        self.c.setSubject(subject)
        self.c.setAuthor("sevis-mock")
        self.c.setCreator("sevis-mock, an offline SEVIS Batch emulator")
        self.c.setKeywords(["TEST", "NOT A GOVERNMENT FORM", "sevis-mock"])  # type: ignore[arg-type]  # a list is documented; the stubs say str
        self.running_head = running_head
        self.page = 0
        self.y = CONTENT_TOP
        self._page_open = False
        self.new_page()

    # -- pages --------------------------------------------------------------------------------

    def new_page(self) -> None:
        """Close the current page (if any) and open the next one with its banner and footer."""
        if self._page_open:
            self._close_page()
        self.page += 1
        self._page_open = True
        self._banner()
        self._footer()
        self.y = CONTENT_TOP

    def ensure(self, height: float) -> bool:
        """Start a new page unless `height` points still fit; True when a page was started."""
        if self.y - height >= BOTTOM:
            return False
        self.new_page()
        return True

    def finish(self) -> bytes:
        """Close the last page and answer the PDF."""
        if self._page_open:
            self._close_page()
        self.c.save()
        return self._buffer.getvalue()

    def _close_page(self) -> None:
        self._watermark()
        self.c.showPage()
        self._page_open = False

    def _banner(self) -> None:
        c = self.c
        c.setFillColor(ALERT)
        c.rect(LEFT, TOP - 18, WIDTH, 18, stroke=0, fill=1)
        c.setFillColor(white)
        c.setFont(BOLD, 10)
        c.drawString(LEFT + 8, TOP - 12.5, TEST_MARK)
        c.setFont(FONT, 7)
        c.drawRightString(RIGHT - 8, TOP - 12, "Produced by sevis-mock for software testing. No legal effect.")

    def _footer(self) -> None:
        c = self.c
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.line(LEFT, MARGIN + 12, RIGHT, MARGIN + 12)
        c.setFillColor(ALERT)
        c.setFont(BOLD, 7.5)
        c.drawString(LEFT, MARGIN + 2, TEST_MARK)
        page = f"Page {self.page}"
        start = LEFT + stringWidth(TEST_MARK, BOLD, 7.5) + 12
        end = RIGHT - stringWidth(page, FONT, 7) - 12
        head, size = fit(self.running_head, FONT, 7, end - start, 6)
        c.setFillColor(LABEL)
        c.setFont(FONT, size)
        c.drawCentredString((start + end) / 2, MARGIN + 2, head)
        c.setFont(FONT, 7)
        c.drawRightString(RIGHT, MARGIN + 2, page)

    def _watermark(self) -> None:
        c = self.c
        c.saveState()
        c.setFillColor(WATERMARK)
        c.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
        c.rotate(WATERMARK_ANGLE)
        c.setFont(BOLD, WATERMARK_SIZE)
        c.drawCentredString(0, 0, TEST_MARK)
        c.restoreState()

    # -- blocks -------------------------------------------------------------------------------

    def heading(self, title: str, subtitle: str, sevis_id: str, note: str) -> None:
        """The form's title block, with the SEVIS ID and its Code 128 barcode on the right."""
        c = self.c
        top = self.y
        c.setFillColor(INK)
        c.setFont(BOLD, 17)
        c.drawString(LEFT, top - 18, title)
        c.setFont(BOLD, 10.5)
        c.drawString(LEFT, top - 33, subtitle)
        c.setFillColor(LABEL)
        c.setFont(OBLIQUE, 7.5)
        c.drawString(LEFT, top - 46, note)

        box_w, box_h = 190.0, 62.0
        x = RIGHT - box_w
        c.setStrokeColor(RULE)
        c.setLineWidth(0.8)
        c.rect(x, top - box_h, box_w, box_h, stroke=1, fill=0)
        c.setFillColor(LABEL)
        c.setFont(FONT, LABEL_SIZE)
        c.drawString(x + 5, top - 8, "SEVIS ID")
        c.setFillColor(INK)
        c.setFont(BOLD, 16)
        c.drawString(x + 5, top - 25, sevis_id)
        if sevis_id:
            barcode = Code128(sevis_id, barHeight=24, barWidth=0.95, quiet=False, humanReadable=False)
            scale = min(1.0, (box_w - 10) / barcode.width)
            c.saveState()
            c.translate(x + 5, top - box_h + 5)
            c.scale(scale, 1)
            barcode.drawOn(c, 0, 0)
            c.restoreState()
        self.y = top - box_h - 8

    def section(self, title: str, *, keep: float = ROW_HEIGHT) -> None:
        """A dark bar naming a section; `keep` points of what follows stay on the same page."""
        if self.y < CONTENT_TOP:
            self.y -= SECTION_GAP
        self.ensure(SECTION_HEIGHT + keep)
        c = self.c
        c.setFillColor(SECTION)
        c.rect(LEFT, self.y - SECTION_HEIGHT, WIDTH, SECTION_HEIGHT, stroke=0, fill=1)
        c.setFillColor(white)
        c.setFont(BOLD, 8.5)
        c.drawString(LEFT + 5, self.y - 10, title.upper())
        self.y -= SECTION_HEIGHT

    def gap(self, points: float = 6.0) -> None:
        self.y -= points

    def fields(self, cells: Sequence[Cell], *, height: float = ROW_HEIGHT, bold: bool = False) -> None:
        """One row of boxed fields across the page; widths are shares of the full width."""
        self.ensure(height)
        shares = sum(cell[2] for cell in cells)
        x = LEFT
        for label, value, share in cells:
            w = WIDTH * share / shares
            self._field(x, self.y - height, w, height, label, value, bold=bold)
            x += w
        self.y -= height

    def _field(self, x: float, y: float, w: float, h: float, label: str, value: str, *, bold: bool) -> None:
        c = self.c
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.rect(x, y, w, h, stroke=1, fill=0)
        c.setFillColor(LABEL)
        c.setFont(FONT, LABEL_SIZE)
        c.drawString(x + 3, y + h - 7.5, fit(label, FONT, LABEL_SIZE, w - 6, LABEL_SIZE)[0])
        if value:
            font = BOLD if bold else FONT
            shown, size = fit(value, font, VALUE_SIZE, w - 6)
            c.setFillColor(INK)
            c.setFont(font, size)
            c.drawString(x + 3, y + 5, shown)

    def text_box(self, label: str, value: str, *, max_lines: int = 6, min_lines: int = 1) -> None:
        """A full-width box holding wrapped text (cut with an ellipsis past `max_lines`)."""
        size, leading = 8.5, 10.5
        lines = simpleSplit(value, FONT, size, WIDTH - 8) if value else []
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = fit(lines[-1] + "\u2026", FONT, size, WIDTH - 8, size)[0]
        count = max(min_lines, len(lines))
        height = 12 + count * leading
        self.ensure(height)
        c = self.c
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.rect(LEFT, self.y - height, WIDTH, height, stroke=1, fill=0)
        c.setFillColor(LABEL)
        c.setFont(FONT, LABEL_SIZE)
        c.drawString(LEFT + 3, self.y - 7.5, label)
        c.setFillColor(INK)
        c.setFont(FONT, size)
        for i, line in enumerate(lines):
            c.drawString(LEFT + 4, self.y - 18 - i * leading, line)
        self.y -= height

    def paragraph(self, value: str, *, size: float = 7.5, leading: float = 9.5) -> None:
        """Plain wrapped text across the page (instructions, attestations)."""
        lines = simpleSplit(value, FONT, size, WIDTH - 8)
        self.ensure(len(lines) * leading + 4)
        c = self.c
        c.setFillColor(INK)
        c.setFont(FONT, size)
        for line in lines:
            c.drawString(LEFT + 4, self.y - size - 2, line)
            self.y -= leading
        self.y -= 4

    def money_table(
        self,
        x: float,
        width: float,
        title: str,
        lines: Sequence[tuple[str, str, str]],
        total_label: str,
        total_value: str,
    ) -> float:
        """A boxed column of (label, note, amount) lines with a bold total; answers its height.

        Drawn from the cursor down without moving it, so two tables can stand side by side.
        """
        c = self.c
        row = 14.0
        height = row * (len(lines) + 2)
        top = self.y
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.setFillColor(SHADE)
        c.rect(x, top - row, width, row, stroke=1, fill=1)
        c.setFillColor(INK)
        c.setFont(BOLD, 7.5)
        c.drawString(x + 4, top - 10, fit(title, BOLD, 7.5, width - 8, 7.5)[0])
        amount_w = 70.0
        y = top - row
        for label, note, value in lines:
            y -= row
            c.setStrokeColor(RULE)
            c.rect(x, y, width, row, stroke=1, fill=0)
            c.setFillColor(INK)
            c.setFont(FONT, 8)
            label_shown = fit(label, FONT, 8, width - amount_w - 8, 8)[0]
            c.drawString(x + 4, y + 4, label_shown)
            if note:
                room = width - amount_w - 14 - stringWidth(label_shown, FONT, 8)
                if room > 20:
                    c.setFillColor(LABEL)
                    c.setFont(OBLIQUE, 6.5)
                    c.drawString(
                        x + 10 + stringWidth(label_shown, FONT, 8), y + 4, fit(f"({note})", OBLIQUE, 6.5, room, 6.5)[0]
                    )
            c.setFillColor(INK)
            c.setFont(FONT, 8.5)
            c.drawRightString(x + width - 5, y + 4, value)
        y -= row
        c.setFillColor(SHADE)
        c.rect(x, y, width, row, stroke=1, fill=1)
        c.setFillColor(INK)
        c.setFont(BOLD, 8)
        c.drawString(x + 4, y + 4, total_label)
        c.setFont(BOLD, 8.5)
        c.drawRightString(x + width - 5, y + 4, total_value)
        return height

    def table(
        self,
        columns: Sequence[tuple[str, float]],
        rows: Sequence[Sequence[str]],
        *,
        empty: str,
        title_for_continuation: str = "",
    ) -> None:
        """A ruled table that continues on a new page (header repeated) when the page runs out."""
        shares = sum(share for _, share in columns)
        widths = [WIDTH * share / shares for _, share in columns]
        self.ensure(TABLE_ROW * 2)
        self._table_header(columns, widths)
        if not rows:
            self._table_row([empty] + [""] * (len(columns) - 1), [WIDTH] + [0.0] * (len(columns) - 1), font=OBLIQUE)
            return
        for values in rows:
            if self.ensure(TABLE_ROW):
                if title_for_continuation:
                    self.section(f"{title_for_continuation} (continued)", keep=TABLE_ROW * 2)
                self._table_header(columns, widths)
            self._table_row(values, widths)

    def _table_header(self, columns: Sequence[tuple[str, float]], widths: Sequence[float]) -> None:
        c = self.c
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.setFillColor(SHADE)
        c.rect(LEFT, self.y - TABLE_ROW, WIDTH, TABLE_ROW, stroke=1, fill=1)
        c.setFillColor(LABEL)
        c.setFont(BOLD, 6.5)
        x = LEFT
        for (label, _), w in zip(columns, widths):
            c.drawString(x + 3, self.y - 9, fit(label, BOLD, 6.5, w - 6, 6.5)[0])
            x += w
        self.y -= TABLE_ROW

    def _table_row(self, values: Sequence[str], widths: Sequence[float], *, font: str = FONT) -> None:
        c = self.c
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.rect(LEFT, self.y - TABLE_ROW, WIDTH, TABLE_ROW, stroke=1, fill=0)
        x = LEFT
        c.setFillColor(INK)
        for value, w in zip(values, widths):
            if w <= 0:
                continue
            if x > LEFT:
                c.line(x, self.y - TABLE_ROW, x, self.y)
            if value:
                shown, size = fit(value, font, 8, w - 6, 6)
                c.setFont(font, size)
                c.drawString(x + 3, self.y - 9.5, shown)
            x += w
        self.y -= TABLE_ROW
