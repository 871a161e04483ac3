"""A small in-memory dataset with known squares and circles, for evaluation tests."""
import numpy as np

from mrcnn.data.dataset import Dataset

H, W = 64, 80


def square(y, x, size):
    m = np.zeros((H, W), bool)
    m[y:y + size, x:x + size] = True
    return m


def disk(cy, cx, r):
    yy, xx = np.mgrid[:H, :W]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


class MemoryDataset(Dataset):
    """Images and masks held in image_info (no files)."""

    def add(self, masks, class_ids, crowd=None):
        masks = np.stack(masks, -1) if masks else np.zeros((H, W, 0), bool)
        image = np.full((H, W, 3), 40, np.uint8)
        image[masks.any(-1)] = 200
        extra = {"crowd": crowd} if crowd is not None else {}
        self.add_image("shapes", len(self.image_info), None, height=H, width=W,
                       image=image, masks=masks, class_ids=np.array(class_ids, np.int32), **extra)

    def load_image(self, image_id):
        return self.image_info[image_id]["image"]

    def load_mask(self, image_id):
        info = self.image_info[image_id]
        return info["masks"], info["class_ids"]


def make_dataset():
    ds = MemoryDataset()
    ds.add_class("shapes", 1, "square")
    ds.add_class("shapes", 2, "circle")
    ds.add([square(5, 5, 20), disk(40, 55, 12)], [1, 2])
    ds.add([square(30, 10, 30), square(2, 50, 8)], [1, 1])
    ds.add([disk(20, 20, 15), disk(45, 60, 10), square(50, 5, 10)], [2, 2, 1])
    # A crowd of circles at the right, as polygon: its detections are ignored.
    crowd_poly = [[60.0, 0.0, 79.0, 0.0, 79.0, 30.0, 60.0, 30.0]]
    ds.add([square(35, 5, 25)], [1], crowd=[{"segmentation": crowd_poly, "class_id": 2}])
    ds.prepare()
    return ds


def gt_results(ds, image_ids=None):
    """Ground truth as perfect detections (score 0.9)."""
    from mrcnn.boxes import extract_bboxes

    out = []
    for i in (ds.image_ids if image_ids is None else image_ids):
        masks, class_ids = ds.load_mask(i)
        out.append({"rois": extract_bboxes(masks), "class_ids": class_ids,
                    "scores": np.full(len(class_ids), 0.9, np.float32), "masks": masks})
    return out
