"""imgaug 0.4.0 imports on NumPy 2 in a user's script whatever comes first:
`from imgaug import augmenters as iaa` at the top (matterport's
samples/nucleus/nucleus.py, before any mrcnn import) needs the import hook
that the mrcnn distribution's .pth file installs at interpreter start."""
import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from mrcnn.imgaug_numpy2 import PTH_FILE

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# nucleus.py's augmentation and a scene whose 8 flips/rotations all differ:
# image and masks must come out transformed alike.
SCENE_AND_CHECKS = '''
import numpy as np

augmentation = iaa.SomeOf((0, 2), [
    iaa.Fliplr(0.5),
    iaa.Flipud(0.5),
    iaa.OneOf([iaa.Affine(rotate=90),
               iaa.Affine(rotate=180),
               iaa.Affine(rotate=270)]),
    iaa.Multiply((0.8, 1.5)),
    iaa.GaussianBlur(sigma=(0.0, 5.0))
])

COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
masks = np.zeros((64, 64, 3), bool)
masks[4:20, 6:26, 0] = True
masks[34:58, 12:28, 1] = True
masks[8:24, 40:58, 2] = True
image = np.full((64, 64, 3), 10, np.uint8)
for i in range(3):
    image[masks[..., i]] = COLOURS[i]


def dihedral(a):
    out = []
    for k in range(4):
        r = np.rot90(a, k, axes=(0, 1))
        out += [r, r[:, ::-1]]
    return out


MASK_MOVES, IMAGE_MOVES = dihedral(masks), dihedral(image)
assert len({m.tobytes() for m in MASK_MOVES}) == 8


def check(out_image, out_masks):
    """Which of the 8 moves the masks made; the image made the same one."""
    moves = [k for k, m in enumerate(MASK_MOVES) if np.array_equal(m, out_masks)]
    assert len(moves) == 1, f"the masks are no flip/rotation of the input: {moves}"
    for i in range(3):
        ys, xs = np.nonzero(out_masks[..., i])
        pixel = out_image[int(ys.mean()), int(xs.mean())]
        assert np.argmax(pixel) == i, f"instance {i}: {pixel} under the mask's centre"
    return moves[0], bool(np.array_equal(out_image, IMAGE_MOVES[moves[0]]))


ia.seed(1)
direct, exact = set(), 0
for _ in range(40):
    det = augmentation.to_deterministic()
    segmap = SegmentationMapsOnImage(masks, shape=image.shape)
    move, same = check(det.augment_image(image), det.augment_segmentation_maps(segmap).get_arr())
    direct.add(move)
    exact += same
assert len(direct) >= 4, direct
assert exact >= 5, exact  # draws without Multiply/GaussianBlur: pixel for pixel

from mrcnn.data.augmentation import augment

through_mrcnn = set()
for _ in range(20):
    out_image, out_masks, class_ids, dropped = augment(
        image, masks, np.array([1, 2, 3], np.int32), augmentation, stats=None)
    assert dropped == 0 and class_ids.tolist() == [1, 2, 3]
    through_mrcnn.add(check(out_image, out_masks)[0])
assert len(through_mrcnn) >= 3, through_mrcnn
print("OK", sorted(direct), sorted(through_mrcnn))
'''

IMGAUG_FIRST = '''
from imgaug import augmenters as iaa
import sys
import imgaug as ia
from imgaug.augmentables.segmaps import SegmentationMapsOnImage
assert not [m for m in sys.modules if m.split(".")[0] == "mrcnn"], "mrcnn came first"
'''

MRCNN_FIRST = '''
import mrcnn.data.augmentation
from imgaug import augmenters as iaa
import imgaug as ia
from imgaug.augmentables.segmaps import SegmentationMapsOnImage
'''

# A checkout put on sys.path and no .pth hook: mrcnn.data.augmentation
# installs the hook when imported.
CHECKOUT_MRCNN_FIRST = f'''
import sys
sys.meta_path = [f for f in sys.meta_path if not getattr(f, "MRCNN_IMGAUG_NUMPY2", False)]
sys.path.insert(0, {ROOT!r})
''' + MRCNN_FIRST


def run_python(tmp_path, code):
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(code))
    # A folder of its own: the checkout must not be on the path by accident.
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)


PROBE = '''
import importlib.metadata, importlib.util, json, site, sys
try:
    importlib.metadata.distribution("mrcnn")
    installed = importlib.util.find_spec("mrcnn") is not None
except importlib.metadata.PackageNotFoundError:
    installed = False
dirs = site.getsitepackages() + [site.getusersitepackages()]
print(json.dumps({
    "installed": installed,
    "hook": any(getattr(f, "MRCNN_IMGAUG_NUMPY2", False) for f in sys.meta_path),
    "pth": [d for d in dirs if __import__("os").path.isfile(__import__("os").path.join(d, %r))],
    "imported": sorted(m for m in ("mrcnn", "numpy", "tensorflow") if m in sys.modules),
}))
''' % PTH_FILE


@pytest.fixture(scope="module")
def fresh_interpreter(tmp_path_factory):
    """What a fresh `python` of this environment has at start."""
    import json

    done = run_python(tmp_path_factory.mktemp("probe"), PROBE)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def needs_installed_mrcnn(state):
    if not state["installed"]:
        pytest.skip("mrcnn is not installed as a distribution in this interpreter "
                    "(pip install -e .); the .pth hook comes with the installed package")


def test_the_hook_is_on_sys_meta_path_at_interpreter_start(fresh_interpreter):
    needs_installed_mrcnn(fresh_interpreter)
    assert fresh_interpreter["pth"], (f"{PTH_FILE} is not in site-packages; reinstall mrcnn "
                                      "(pip install -e .) with this setup.py")
    assert fresh_interpreter["hook"], f"{PTH_FILE} is installed but put no finder on sys.meta_path"
    # The .pth runs in every interpreter: it must not import mrcnn, numpy or TensorFlow.
    assert fresh_interpreter["imported"] == []


imgaug_installed = pytest.mark.skipif(
    importlib.util.find_spec("imgaug") is None,
    reason="imgaug is not installed (pip install -e '.[imgaug]', also in the test extra)")


@imgaug_installed
def test_nucleus_script_with_imgaug_imported_first(tmp_path, fresh_interpreter):
    needs_installed_mrcnn(fresh_interpreter)
    done = run_python(tmp_path, IMGAUG_FIRST + SCENE_AND_CHECKS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("OK")


@imgaug_installed
def test_nucleus_script_with_mrcnn_imported_first(tmp_path, fresh_interpreter):
    needs_installed_mrcnn(fresh_interpreter)
    done = run_python(tmp_path, MRCNN_FIRST + SCENE_AND_CHECKS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("OK")


@imgaug_installed
def test_checkout_on_sys_path_with_mrcnn_imported_first(tmp_path):
    done = run_python(tmp_path, CHECKOUT_MRCNN_FIRST + SCENE_AND_CHECKS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("OK")
