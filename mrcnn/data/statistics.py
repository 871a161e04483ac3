"""Class statistics of a dataset: instances per class and per image, mask
areas and box sizes, as a table and as histograms."""
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
        # Per instance with pixels: class id, box height, box width, image
        # height, image width (for sizes after a config's resize).
        self._boxes = []

    def add_image(self, masks, class_ids):
        """masks: bool [H, W, N]; class_ids: int [N] (internal ids)."""
        class_ids = np.asarray(class_ids, dtype=np.int64)
        self.instances_per_image.append(int(class_ids.size))
        if class_ids.size == 0:
            return
        pixels = masks.shape[0] * masks.shape[1]
        # One pass over the masks gives the areas and the rows of each box;
        # the columns are then looked for in those rows only.
        row_counts = masks.sum(axis=1, dtype=np.int64)
        areas = row_counts.sum(axis=0)
        for k, class_id in enumerate(class_ids):
            rows = np.flatnonzero(row_counts[:, k])
            if rows.size:
                cols = np.flatnonzero(masks[rows[0]:rows[-1] + 1, :, k].any(axis=0))
                self._boxes.append((int(class_id), int(rows[-1] + 1 - rows[0]),
                                    int(cols[-1] + 1 - cols[0]), masks.shape[0], masks.shape[1]))
        for class_id, area in zip(class_ids, areas):
            if class_id in self.areas:
                self.areas[class_id].append(int(area))
                self.area_fractions[class_id].append(float(area) / max(pixels, 1))
        present, counts = np.unique(class_ids, return_counts=True)
        valid = (present > 0) & (present < len(self.class_names))
        self.images_with_class[present[valid]] += 1
        self.max_per_image[present[valid]] = np.maximum(self.max_per_image[present[valid]], counts[valid])

    def boxes(self, with_class=False):
        """int64 [N, 4]: box height, box width, image height, image width of
        every instance with pixels (original image pixels); [N, 5] with the
        class id first when `with_class`."""
        table = np.asarray(self._boxes, dtype=np.int64).reshape(-1, 5)
        return table if with_class else table[:, 1:]

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

    def plot_classes(self, path, title=None):
        """Save a bar chart of the instances and of the images per class as a
        PNG (instances blue, images orange, side by side). Returns path."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        names = self.class_names[1:]
        instances = [len(self.areas[i]) for i in range(1, len(self.class_names))]
        images = [int(self.images_with_class[i]) for i in range(1, len(self.class_names))]
        figure = Figure(figsize=(min(30.0, max(5.0, 0.6 * len(names) + 2)), 4.5))
        FigureCanvasAgg(figure)
        ax = figure.subplots()
        x = np.arange(len(names))
        bars = ax.bar(x - 0.2, instances, width=0.4, color="tab:blue", label="instances")
        ax.bar_label(bars, fontsize="small")
        bars = ax.bar(x + 0.2, images, width=0.4, color="tab:orange", label="images")
        ax.bar_label(bars, fontsize="small")
        tilted = len(names) > 4
        ax.set_xticks(x, names, rotation=45 if tilted else 0, ha="right" if tilted else "center")
        ax.set_ylabel("count")
        ax.legend(fontsize="small")
        what = "instances and images per class"
        ax.set_title(f"{title}: {what}" if title else what)
        figure.tight_layout()
        figure.savefig(path, dpi=80)
        return path
