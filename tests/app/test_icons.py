"""The menu-bar icon: a template image on macOS (black and clear, marked as a mask, so the menu bar
tints it for light and dark), the coloured one elsewhere; one per state the tray shows."""

import pytest

from engine.platform.linux import LinuxPlatform

pytest.importorskip("PySide6")

STATES = ("idle", "busy", "paused", "attention")


class _TemplateMenuBar(LinuxPlatform):
    """This machine, with a menu bar that draws template images (macOS's answer)."""

    template_menu_bar_icons = True


@pytest.mark.parametrize("state", STATES)
def test_each_template_icon_is_black_and_clear_only(qapp, state):
    from PySide6.QtGui import QColor

    from app.icons import icon

    image = icon(f"menubar-{state}").pixmap(44, 44).toImage()
    colours = {
        QColor(image.pixel(x, y)).rgb() & 0xFFFFFF
        for x in range(44)
        for y in range(44)
        if QColor.fromRgba(image.pixel(x, y)).alpha() > 0
    }
    opaque = sum(1 for x in range(44) for y in range(44) if QColor.fromRgba(image.pixel(x, y)).alpha() > 128)
    assert colours == {0} and opaque > 200  # drawn, in black only (Apple: template images are black and clear)


def test_the_menu_bar_gets_template_icons_where_the_system_tints_them(qapp):
    from app.icons import menu_bar_icon
    from engine.platform import use

    assert not any(menu_bar_icon(s).isMask() for s in STATES)  # this Linux tray: the coloured ones
    with use(_TemplateMenuBar()):
        icons = [menu_bar_icon(s) for s in STATES]
    assert all(i.isMask() and not i.isNull() for i in icons)
    keys = {i.pixmap(22, 22).toImage().bits().tobytes() for i in icons}
    assert len(keys) == len(STATES)  # each state looks different
