"""zfkeras.data.files: listing, decode checks, the one bad-file filter."""

import os
import warnings

import numpy as np
import pytest
from PIL import Image

from tests.images_helpers import write_corrupt_files
from tests.images_helpers import write_folder
from zfkeras.data import files


def test_list_image_files_labels_sorted_and_recursive(tmp_path, small_photos):
    written = write_folder(tmp_path, small_photos, "jpg")
    nested = tmp_path / "cats" / "more"
    nested.mkdir()
    Image.fromarray(small_photos["coffee"]).save(nested / "again.JPEG")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    (tmp_path / "cats" / ".hidden.jpg").write_bytes(b"")
    paths, labels, class_names = files.list_image_files(tmp_path)
    assert class_names == ["birds", "cats", "dogs"]
    assert str(nested / "again.JPEG") in paths
    assert len(paths) == 7
    for path, label in zip(paths, labels):
        cls = written[path][0] if path in written else "cats"
        assert class_names[label] == cls
    # An explicit order maps labels to it; unknown folders are refused.
    paths2, labels2, _ = files.list_image_files(tmp_path, class_names=["dogs", "cats", "birds", "fish"])
    assert dict(zip(paths2, labels2.tolist())) == dict(zip(paths, (2 - labels).tolist()))
    with pytest.raises(ValueError, match=r"class folders \['birds'\] that are not in class_names"):
        files.list_image_files(tmp_path, class_names=["dogs", "cats"])


def test_list_image_files_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        files.list_image_files(tmp_path / "nope")
    (tmp_path / "flat").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(ValueError, match="no class sub-folders"):
        files.list_image_files(tmp_path / "flat")
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(ValueError, match="No image files"):
        files.list_image_files(tmp_path / "empty")


def test_check_image_files_names_each_bad_file_with_its_reason(tmp_path, small_photos, fresh_file_checks):
    write_folder(tmp_path, small_photos, layout={"dogs": ["chelsea"], "cats": [], "birds": []})
    bad = write_corrupt_files(tmp_path)
    good = str(tmp_path / "dogs" / "chelsea.png")
    report = files.check_image_files([good] + bad)
    assert report.paths == bad and report.num_checked == 4 and report.num_bad == 3
    reasons = dict(report.bad_files)
    assert "Invalid JPEG data" in reasons[str(tmp_path / "cats" / "truncated.jpg")]
    assert "Unknown image file format" in reasons[str(tmp_path / "dogs" / "readme.jpg")]
    assert "empty" in reasons[str(tmp_path / "birds" / "empty.png")].lower()
    assert str(files.check_image_files([good])) == "All 1 image files decode."
    text = str(report)
    assert text.startswith("3 of 4 image files cannot be decoded")
    assert all(path in text for path in bad)
    missing = files.check_image_files([str(tmp_path / "gone.png")])
    assert missing.num_bad == 1 and "cannot be read" in missing.bad_files[0][1]


def test_files_checked_before_are_not_decoded_again(tmp_path, small_photos, fresh_file_checks, monkeypatch):
    written = sorted(write_folder(tmp_path, small_photos))
    decoded = []
    real_decode_all = files._decode_all

    def counting_decode_all(paths, verbose):
        decoded.extend(paths)
        return real_decode_all(paths, verbose)

    monkeypatch.setattr(files, "_decode_all", counting_decode_all)
    assert files.check_image_files(written).num_bad == 0
    assert sorted(decoded) == written
    decoded.clear()
    assert files.check_image_files(written).num_bad == 0
    assert decoded == []
    # A file replaced on disk (new size and time) is checked afresh.
    target = written[0]
    with open(target, "wb") as f:
        f.write(b"no longer a png")
    stat = os.stat(target)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    report = files.check_image_files(written)
    assert decoded == [target] and report.paths == [target]


def test_decodable_files_filters_paths_and_labels_and_warns_once(tmp_path, small_photos, fresh_file_checks):
    write_folder(tmp_path, small_photos)
    bad = write_corrupt_files(tmp_path)
    paths, labels, _ = files.list_image_files(tmp_path)
    with pytest.warns(UserWarning, match="3 of 9 image files cannot be decoded") as record:
        kept, kept_labels, report = files.decodable_files(paths, labels, where=str(tmp_path))
    assert all(path in str(record[0].message) for path in bad)
    assert sorted(report.paths) == bad
    expected = [(p, l) for p, l in zip(paths, labels) if p not in bad]
    assert list(zip(kept, kept_labels.tolist())) == expected
    # Already reported: a second pipeline over the same files stays quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again, _, report_again = files.decodable_files(paths, labels)
    assert again == kept and report_again.bad_files == report.bad_files


def test_decodable_files_refuses_when_nothing_decodes(tmp_path, fresh_file_checks):
    for name in ("cats", "dogs", "birds"):
        (tmp_path / name).mkdir()
    bad = write_corrupt_files(tmp_path)
    with pytest.warns(UserWarning):
        with pytest.raises(ValueError, match="No image in the folder X can be decoded") as info:
            files.decodable_files(bad, where="the folder X")
    assert all(path in str(info.value) for path in bad)


def test_many_bad_files_are_summarised(tmp_path, fresh_file_checks):
    (tmp_path / "c").mkdir()
    paths = []
    for i in range(25):
        path = tmp_path / "c" / f"bad{i:02d}.png"
        path.write_bytes(b"x")
        paths.append(str(path))
    with pytest.warns(UserWarning) as record:
        with pytest.raises(ValueError):
            files.decodable_files(paths)
    message = str(record[0].message)
    assert message.startswith("25 of 25 image files cannot be decoded")
    # Only the first 20 are listed.
    assert "bad19.png" in message and "bad20.png" not in message
    assert message.count(": Unknown image file format") == 20 and "... and 5 more" in message
