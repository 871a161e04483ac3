"""Class statistics of a dataset: instances per class and per image, mask
areas, as a table and as histograms."""
import numpy as np

PERCENTILES = (5, 50, 95)


class DatasetStatistics:
    """Accumulates instance counts and mask areas image by image.

    class_names: the dataset's class names, class_names[0] == "BG".
    """

    def __init__(self, class_names):
        self.class_names = list(class_names)
        self.instances_per_image = []
        self.areas = {i: [] for i in range(1, len(self.class_names))}
        self.area_fractions = {i: [] for i in range(1, len(self.class_names))}
        self.images_with_class = np.zeros(len(self.class_names), dtype=np.int64)
        self.max_per_image = np.zeros(len(self.class_names), dtype=np.int64)

    def add_image(self, masks, class_ids):
        """masks: bool [H, W, N]; class_ids: int [N] (internal ids)."""
        class_ids = np.asarray(class_ids, dtype=np.int64)
        self.instances_per_image.append(int(class_ids.size))
        if class_ids.size == 0:
            return
        pixels = masks.shape[0] * masks.shape[1]
        areas = masks.reshape(-1, masks.shape[-1]).sum(axis=0)
        for class_id, area in zip(class_ids, areas):
            if class_id in self.areas:
                self.areas[class_id].append(int(area))
                self.area_fractions[class_id].append(float(area) / max(pixels, 1))
        present, counts = np.unique(class_ids, return_counts=True)
        valid = (present > 0) & (present < len(self.class_names))
        self.images_with_class[present[valid]] += 1
        self.max_per_image[present[valid]] = np.maximum(self.max_per_image[present[valid]], counts[valid])

    @property
    def num_instances(self):
        return int(sum(self.instances_per_image))

    def rows(self):
        """One dict per class: name, instances, images, per_image_mean (over
        images that have the class), per_image_max, area percentiles (pixels)
        and median area as a fraction of the image."""
        rows = []
        for class_id in range(1, len(self.class_names)):
            areas = np.asarray(self.areas[class_id], dtype=np.float64)
            images = int(self.images_with_class[class_id])
            row = {"class": self.class_names[class_id], "instances": int(areas.size), "images": images,
                   "per_image_mean": float(areas.size / images) if images else 0.0,
                   "per_image_max": int(self.max_per_image[class_id])}
            for p in PERCENTILES:
                row[f"area_p{p}"] = float(np.percentile(areas, p)) if areas.size else None
            fractions = self.area_fractions[class_id]
            row["area_median_fraction"] = float(np.median(fractions)) if fractions else None
            rows.append(row)
        return rows

    def table(self):
        """The rows as aligned text."""
        header = ["class", "instances", "images", "per image", "max", "area p5", "p50", "p95", "% image"]
        lines = []
        for row in self.rows():
            def area(key):
                return "-" if row[key] is None else f"{row[key]:.0f}"
            fraction = "-" if row["area_median_fraction"] is None else f"{100 * row['area_median_fraction']:.1f}"
            lines.append([row["class"], str(row["instances"]), str(row["images"]),
                          f"{row['per_image_mean']:.2f}", str(row["per_image_max"]),
                          area("area_p5"), area("area_p50"), area("area_p95"), fraction])
        widths = [max(len(str(r[i])) for r in [header] + lines) for i in range(len(header))]
        out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
        for line in lines:
            out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
        per_image = np.asarray(self.instances_per_image, dtype=np.int64)
        if per_image.size == 0:
            out.append("no images")
            return "\n".join(out)
        out.append(f"instances per image: min {per_image.min()}, median {np.median(per_image):g}, "
                   f"max {per_image.max()}; images without instances: {int((per_image == 0).sum())}")
        return "\n".join(out)

    def plot(self, path, title=None):
        """Save histograms (instances per class, instances per image, mask
        areas per class) as a PNG. Uses matplotlib without pyplot."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(15, 4.5))
        FigureCanvasAgg(figure)
        by_class, per_image, areas = figure.subplots(1, 3)
        names = self.class_names[1:]
        counts = [len(self.areas[i]) for i in range(1, len(self.class_names))]
        by_class.bar(range(len(names)), counts, color="tab:blue")
        by_class.set_xticks(range(len(names)), names, rotation=45, ha="right")
        by_class.set_title("instances per class")
        values = np.asarray(self.instances_per_image or [0])
        per_image.hist(values, bins=np.arange(values.max() + 2) - 0.5, color="tab:green")
        per_image.set_title("instances per image")
        per_image.set_xlabel("instances")
        all_areas = [a for i in self.areas for a in self.areas[i] if a > 0]
        if all_areas:
            bins = np.logspace(0, np.log10(max(all_areas)) + 0.01, 30)
            for class_id in range(1, len(self.class_names)):
                class_areas = [a for a in self.areas[class_id] if a > 0]
                if class_areas:
                    areas.hist(class_areas, bins=bins, alpha=0.5, label=self.class_names[class_id])
            areas.set_xscale("log")
            areas.legend(fontsize="small")
        areas.set_title("mask area (pixels)")
        if title:
            figure.suptitle(title)
        figure.tight_layout()
        figure.savefig(path, dpi=80)
        return path
