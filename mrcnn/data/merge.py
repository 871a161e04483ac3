"""Several datasets trained as one, their classes matched by name.

Read each dataset with the same label map (so they share class names), then

    train = merge_datasets([read_dataset(a, label_map=m, source="gns"),
                            read_dataset(b, label_map=m, source="coco")])

Images and masks are still loaded by each part's own class, so subclasses
keep their overrides.
"""
import numpy as np

from mrcnn.data.dataset import Dataset
from mrcnn.data.problems import ProblemLog


class MergedDataset(Dataset):
    """Prepared datasets concatenated, with one class list.

    datasets: prepared Datasets.
    class_names: the merged class names without "BG"; default: the union of
        the parts' names in the order they first appear. Classes of a part
        that are not in the list are dropped from its masks.
    source: the source name of the merged images and classes.
    """

    def __init__(self, datasets, class_names=None, source="merged"):
        super().__init__()
        self.parts = list(datasets)
        for part in self.parts:
            if not hasattr(part, "class_names"):
                raise ValueError("merge_datasets needs prepared datasets: call prepare() on each part")
        if class_names is None:
            class_names = list(dict.fromkeys(n for part in self.parts for n in part.class_names[1:]))
        for class_id, name in enumerate(class_names, 1):
            self.add_class(source, class_id, name)
        merged_ids = {name: i for i, name in enumerate(class_names, 1)}
        # part internal class id -> merged internal id, 0 for a dropped class
        self._class_lookup = [np.array([0] + [merged_ids.get(n, 0) for n in part.class_names[1:]],
                                       dtype=np.int32) for part in self.parts]
        self.problems = ProblemLog()
        for index, part in enumerate(self.parts):
            if getattr(part, "problems", None) is not None:
                self.problems.extend(part.problems)
            for image_id in part.image_ids:
                info = part.image_info[image_id]
                extra = {k: info[k] for k in ("height", "width") if k in info}
                crowd = [dict(r, class_id=int(self._class_lookup[index][r["class_id"]]))
                         for r in info.get("crowd") or []]
                records = info.get("instances")
                if isinstance(records, list):
                    # The readers' records, under the merged class ids (dropped
                    # classes left out), so that counts need no mask.
                    merged_records = []
                    for record in records:
                        part_id = part.map_source_class_id(f"{info['source']}.{record['class_id']}")
                        merged_id = int(self._class_lookup[index][part_id])
                        if merged_id:
                            merged_records.append(dict(record, class_id=merged_id))
                    extra["instances"] = merged_records
                self.add_image(source, f"{index}:{info['id']}", info.get("path"), part=index,
                               part_image_id=int(image_id), crowd=[r for r in crowd if r["class_id"]],
                               **extra)
        self.prepare()

    def _part(self, image_id):
        info = self.image_info[image_id]
        return info["part"], self.parts[info["part"]], info["part_image_id"]

    def load_image(self, image_id):
        _, part, part_id = self._part(image_id)
        return part.load_image(part_id)

    def load_mask(self, image_id):
        """Returns masks bool [H, W, N] and int32 [N] merged class ids."""
        index, part, part_id = self._part(image_id)
        masks, class_ids = part.load_mask(part_id)
        merged = self._class_lookup[index][np.asarray(class_ids, dtype=np.int64)]
        keep = merged > 0
        return masks[..., keep], merged[keep].astype(np.int32)

    def image_reference(self, image_id):
        _, part, part_id = self._part(image_id)
        return part.image_reference(part_id)


def merge_datasets(datasets, class_names=None, source="merged"):
    """Concatenate prepared datasets into one prepared `MergedDataset`."""
    return MergedDataset(datasets, class_names=class_names, source=source)
