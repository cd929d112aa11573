"""zfkeras.utils.progress: a bar when asked, or when the work is long."""

import keras
import pytest

from zfkeras.utils.progress import progress_bar


@pytest.mark.parametrize(
    "total, verbose, shown",
    [(5, 0, False), (5, 1, True), (5, "auto", False), (101, "auto", True), (100, "auto", False),
     (None, "auto", False), (None, 1, True)],
)
def test_progress_bar_shown_when_asked_or_long(total, verbose, shown):
    bar = progress_bar(total, verbose, "file", auto_minimum=100)
    assert (bar is not None) == shown
    if shown:
        assert isinstance(bar, keras.utils.Progbar) and bar.target == total


@pytest.mark.parametrize("verbose", [2, "yes", None])
def test_bad_verbose(verbose):
    with pytest.raises(ValueError, match=f"verbose must be one of 0, 1, 'auto'; got {verbose!r}"):
        progress_bar(10, verbose, "file", auto_minimum=100)


def test_a_check_with_verbose_1_prints_its_progress(tmp_path, small_photos, fresh_file_checks, capsys):
    from tests.images_helpers import write_folder
    from zfkeras.data.files import check_image_files

    paths = sorted(write_folder(tmp_path, small_photos))
    check_image_files(paths, verbose=0)
    assert "6/6" not in capsys.readouterr().out
    fresh_file_checks._CHECKED.clear()
    check_image_files(paths, verbose=1)
    assert "6/6" in capsys.readouterr().out
