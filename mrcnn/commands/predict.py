"""`predict`: run a checkpoint on image files.

    --format coco (default): <out>/<image stem>.png with the detections drawn,
        <out>/coco_results.json (COCO results: image_id, category_id, bbox,
        score, RLE segmentation) and <out>/coco_images.json (the "images" and
        "categories" those ids refer to, so that
        COCO("coco_images.json").loadRes("coco_results.json") works).
    --format labelme: <out>/<image stem>.json per image, LabelMe polygons
        that labelme opens (put them beside the images: --out = the image
        folder) and that `read_dataset` reads back.
"""
import glob
import os

from mrcnn.coco_eval import results_to_coco, run_detection, write_coco_results
from mrcnn.commands import UsageError
from mrcnn.commands.labelme import labelme_document, write_labelme
from mrcnn.commands.project import class_names_of
from mrcnn.commands.session import configure, load_model
from mrcnn.data.dataset import Dataset
from mrcnn.data.image_files import image_size

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def list_images(spec):
    """Image files of a folder (not recursive), a glob pattern (`**`
    allowed) or one file, sorted. Raises UsageError when there are none."""
    if os.path.isdir(spec):
        files = [os.path.join(spec, n) for n in os.listdir(spec)]
    elif os.path.isfile(spec):
        files = [spec]
    else:
        files = glob.glob(spec, recursive=True)
    files = sorted(f for f in files if os.path.isfile(f) and f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise UsageError(f"--images {spec}: no image files ({', '.join(IMAGE_EXTENSIONS)}) there")
    return files


class ImageFilesDataset(Dataset):
    """Image files without annotations, for running detection over them.

    image_info: "path", "height", "width" (from the file header, EXIF
    orientation applied as load_image does).
    """

    def load_files(self, paths, class_names):
        """paths: image files. class_names: ["BG", ...] (so that results
        name their classes). Returns self, prepared."""
        for class_id, name in enumerate(class_names[1:], 1):
            self.add_class("predict", class_id, name)
        for path in paths:
            height, width = image_size(path)
            self.add_image("predict", image_id=path, path=path, height=height, width=width)
        self.prepare()
        return self


def _stems(paths):
    """Output names: the file stems, made unique when two images share one."""
    seen, names = {}, []
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        count = seen.get(stem, 0)
        seen[stem] = count + 1
        names.append(stem if count == 0 else f"{stem}_{count}")
    return names


def coco_images_header(dataset, out_dir):
    """{"images", "categories"} of a predict run (image ids = internal ids)."""
    images = [{"id": int(i), "file_name": os.path.relpath(dataset.image_info[i]["path"], out_dir),
               "height": dataset.image_info[i]["height"], "width": dataset.image_info[i]["width"]}
              for i in dataset.image_ids]
    categories = [{"id": i, "name": name} for i, name in enumerate(dataset.class_names) if i]
    return {"images": images, "categories": categories}


def run_predict(args, project):
    """Predict; returns the exit code."""
    import json

    from PIL import Image

    from mrcnn.visualize import draw_instances

    files = list_images(args.images)
    stems = _stems(files)
    if args.format != "labelme":
        inputs = {os.path.abspath(f) for f in files}
        clash = [s for s in stems if os.path.abspath(os.path.join(args.out, s + ".png")) in inputs]
        if clash:
            raise UsageError(f"--out {args.out}: the drawings would overwrite the input image "
                             f"{clash[0]}.png; choose another --out")
    config, path, _ = configure(project, args, "inference")
    config.validate()
    class_names = class_names_of(config)
    dataset = ImageFilesDataset().load_files(files, class_names)
    model, _ = load_model("inference", config, args, path)
    os.makedirs(args.out, exist_ok=True)
    coco_results, counts = [], {}
    for image_id, image, result in run_detection(model.detect, dataset, list(dataset.image_ids),
                                                 batch_size=1, desc="predict"):
        for class_id in result["class_ids"]:
            counts[class_names[class_id]] = counts.get(class_names[class_id], 0) + 1
        if args.format == "labelme":
            document = labelme_document(result, class_names, files[image_id], image.shape, args.out)
            write_labelme(os.path.join(args.out, stems[image_id] + ".json"), document)
        else:
            drawn = draw_instances(image, result, class_names)
            Image.fromarray(drawn).save(os.path.join(args.out, stems[image_id] + ".png"))
            coco_results.extend(results_to_coco(dataset, [image_id], [result]))
    if args.format != "labelme":
        write_coco_results(os.path.join(args.out, "coco_results.json"), coco_results)
        with open(os.path.join(args.out, "coco_images.json"), "w", encoding="utf-8") as f:
            json.dump(coco_images_header(dataset, args.out), f)
    found = ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "nothing"
    print(f"{len(files)} images: {found}; {args.format} output in {args.out}")
    return 0
