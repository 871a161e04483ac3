"""The base class of the format readers: instances listed in image_info,
masks drawn only when `load_mask` asks for them.

Each image_info holds, besides matterport's "id", "source" and "path":

    "height", "width": int, the image size (None when the image is absent)
    "instances": list of instance records (see mrcnn.data.builder) with a
        "shape" (see mrcnn.data.rasterize) and a "class_id" in the source
    "crowd": list of crowd regions kept out of the instances: dicts with
        "segmentation" (COCO polygons or RLE, as pycocotools reads them),
        "class_id" (internal class id) and "bbox" ([x, y, w, h]) when known
    "annotation_file": where the image's annotations were read

Subclass a reader and override `load_mask` as with matterport's Dataset; the
records stay available to your code.
"""
import numpy as np

from mrcnn.data.dataset import Dataset
from mrcnn.data.errors import DatasetError
from mrcnn.data.image_files import image_size
from mrcnn.data.problems import ProblemLog
from mrcnn.data.rasterize import coco_segmentation_mask, shape_to_mask


class AnnotatedDataset(Dataset):
    """A Dataset whose instances are shapes stored in `image_info`.

    `problems` (a ProblemLog) counts what the readers skipped, with examples.
    """

    def __init__(self, class_map=None):
        super().__init__(class_map)
        self.problems = ProblemLog()

    def image_size(self, image_id):
        """(height, width) of an image: from the annotations, else its header."""
        info = self.image_info[image_id]
        if info.get("height") is None or info.get("width") is None:
            if not info.get("path"):
                raise DatasetError(f"image {info['id']} has neither a size nor a file",
                                   kind="missing_image", annotation=f"image {info['id']}")
            try:
                info["height"], info["width"] = image_size(info["path"])
            except FileNotFoundError as e:
                raise DatasetError(f"{info['path']}: the image file does not exist",
                                   kind="missing_image", file=info["path"]) from e
        return int(info["height"]), int(info["width"])

    def load_mask(self, image_id):
        """Draw the instance masks of an image.

        Returns:
            masks: bool [height, width, N], one mask per instance; N may be 0.
            class_ids: int32 [N], internal class ids.
        """
        info = self.image_info[image_id]
        height, width = self.image_size(image_id)
        instances = info.get("instances") or []
        masks = np.zeros((height, width, len(instances)), dtype=bool)
        cache = {}
        for i, record in enumerate(instances):
            masks[..., i] = self._draw(record, height, width, cache, info)
        class_ids = np.array([self.map_source_class_id(f"{info['source']}.{r['class_id']}")
                              for r in instances], dtype=np.int32)
        return masks, class_ids.reshape([len(instances)])

    def load_crowd(self, image_id):
        """The crowd regions of an image (kept out of `load_mask`).

        Returns: masks bool [height, width, K], class_ids int32 [K] (internal).
        """
        info = self.image_info[image_id]
        height, width = self.image_size(image_id)
        crowd = info.get("crowd") or []
        masks = np.zeros((height, width, len(crowd)), dtype=bool)
        for i, region in enumerate(crowd):
            masks[..., i] = coco_segmentation_mask(region["segmentation"], height, width)
        return masks, np.array([r["class_id"] for r in crowd], dtype=np.int32).reshape([len(crowd)])

    def _draw(self, record, height, width, cache, info):
        try:
            return shape_to_mask(record["shape"], height, width, cache)
        except DatasetError as e:
            file = e.file or info.get("annotation_file")
            raise DatasetError(f"{file}: {record.get('annotation', '')}: {e}", kind=e.kind,
                               file=file, annotation=record.get("annotation")) from e
