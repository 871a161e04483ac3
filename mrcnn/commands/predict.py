"""`predict`: run a checkpoint on image files or on a video.

    --images, --format coco (default): <out>/<image stem>.png with the
        detections drawn, <out>/coco_results.json (COCO results: image_id,
        category_id, bbox, score, RLE segmentation) and <out>/coco_images.json
        (the "images" and "categories" those ids refer to, so that
        COCO("coco_images.json").loadRes("coco_results.json") works).
    --images, --format labelme: <out>/<image stem>.json per image, LabelMe
        polygons that labelme opens (put them beside the images: --out = the
        image folder) and that `read_dataset` reads back.
    --video: <out>/<video stem>.mp4, every frame with the detections drawn
        (mrcnn.commands.video says which codec), and <out>/<video stem>.jsonl,
        one JSON object per frame:
        {"frame": index from 0, "time": seconds from the start,
         "detections": [{"class_id", "class_name", "score",
                         "bbox": [x, y, width, height] pixels,
                         "segmentation": COCO RLE {"size": [H, W], "counts"}}]}
        (bbox and segmentation as in coco_results.json;
        pycocotools.mask.decode(segmentation) gives the bool mask [H, W]).

An image that cannot be read is named with what is wrong and skipped; the
others' results are written and the exit code is 1 (2 when none could be read).
`--classes a,b` keeps only the detections of those classes of the model in
every output (class ids stay the model's).

The model is the checkpoint of --weights (default: last), or with `--model
EXPORT_DIR` the SavedModel `mrcnn export` wrote (mrcnn.export.ExportedModel,
behind MaskRCNN's detect() by mrcnn.serving.predictor.PredictorDetector).
"""
import glob
import json
import os
import sys

from mrcnn.coco_eval import result_instances, results_to_coco, write_coco_results
from mrcnn.commands import UsageError
from mrcnn.commands.labelme import labelme_document, write_labelme
from mrcnn.commands.session import configure, load_exported, load_model
from mrcnn.commands.video import VideoFrames, transform_video
from mrcnn.data.dataset import Dataset
from mrcnn.data.errors import DatasetError
from mrcnn.data.image_files import image_size
from mrcnn.data.label_map import ClassSubset
from mrcnn.data.read_ahead import DEPTH, BackgroundWriter, read_ahead

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# mrcnn.cli's EXIT_PROBLEMS (commands do not import the CLI): some images failed.
EXIT_SOME_FAILED = 1


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
    unreadable: [(path, message)] of the files whose header could not be
    read; they are not added.
    """

    def load_files(self, paths, class_names):
        """paths: image files. class_names: ["BG", ...] (so that results
        name their classes). Returns self, prepared."""
        self.unreadable = []
        for class_id, name in enumerate(class_names[1:], 1):
            self.add_class("predict", class_id, name)
        for path in paths:
            try:
                height, width = image_size(path)
            except DatasetError as e:
                self.unreadable.append((path, str(e)))
                continue
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


def coco_images_header(dataset, out_dir, image_ids=None):
    """{"images", "categories"} of a predict run (image ids = internal ids):
    the images of `image_ids` (default all)."""
    ids = dataset.image_ids if image_ids is None else image_ids
    images = [{"id": int(i), "file_name": os.path.relpath(dataset.image_info[i]["path"], out_dir),
               "height": dataset.image_info[i]["height"], "width": dataset.image_info[i]["width"]}
              for i in ids]
    categories = [{"id": i, "name": name} for i, name in enumerate(dataset.class_names) if i]
    return {"images": images, "categories": categories}


def _count(counts, result, class_names):
    for class_id in result["class_ids"]:
        counts[class_names[class_id]] = counts.get(class_names[class_id], 0) + 1


def _found(counts):
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "nothing"


def _skipped(message, write=None):
    """One line on stderr per image that is left out (through tqdm.write
    while a progress bar is drawn)."""
    line = f"predict: skipped {message}"
    if write is None:
        print(line, file=sys.stderr)
    else:
        write(line, file=sys.stderr)


def class_filter(args, class_names):
    """--classes as a function result -> result keeping those classes, or
    None without the flag. class_names: the model's, ["BG", ...].
    Raises UsageError naming the model's classes for an unknown name."""
    text = getattr(args, "classes", None)
    if not text:
        return None
    wanted = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in class_names[1:]]
    if unknown or not wanted:
        raise UsageError(f"--classes {text}: {', '.join(unknown) or 'no class'} "
                         f"{'is' if len(unknown) == 1 else 'are'} not among the model's classes "
                         f"({', '.join(class_names[1:])})")
    return ClassSubset(class_names, wanted)


def model_loader(args, project):
    """(class_names ["BG", ...], load): `load()` returns the model the flags
    name, as an object with MaskRCNN's detect(images): the exported
    SavedModel of --model (loaded now: it carries the class names), or the
    checkpoint of --weights (default: last), built when `load` is called."""
    if getattr(args, "model", None):
        from mrcnn.serving.predictor import PredictorDetector

        detector = PredictorDetector(load_exported(args))
        return detector.class_names, lambda: detector
    args.weights = args.weights or "last"
    config, path, _ = configure(project, args, "inference")
    config.validate()
    return config.class_names(), lambda: load_model("inference", config, args, path)[0]


def _detect(model, image, keep):
    result = model.detect([image])[0]
    return keep(result) if keep is not None else result


def run_predict(args, project):
    """Predict; returns the exit code."""
    if args.video:
        return predict_video(args, project)
    return predict_images(args, project)


def predict_images(args, project):
    """--images: drawings + COCO results, or LabelMe JSONs. Returns the exit
    code: 0, or 1 when some images could not be read."""
    from PIL import Image
    from tqdm.auto import tqdm

    from mrcnn.drawing import draw_instances

    files = list_images(args.images)
    stem_of = dict(zip(files, _stems(files)))
    if args.format != "labelme":
        inputs = {os.path.abspath(f) for f in files}
        clash = [s for s in stem_of.values()
                 if os.path.abspath(os.path.join(args.out, s + ".png")) in inputs]
        if clash:
            raise UsageError(f"--out {args.out}: the drawings would overwrite the input image "
                             f"{clash[0]}.png; choose another --out")
    class_names, load = model_loader(args, project)
    keep = class_filter(args, class_names)
    dataset = ImageFilesDataset().load_files(files, class_names)
    failed = [p for p, _ in dataset.unreadable]
    for _, message in dataset.unreadable:
        _skipped(message)
    nothing_read = DatasetError(f"--images {args.images}: no image could be read ({len(files)} "
                                "files, named above)", kind="unreadable_image")
    if not len(dataset.image_ids):
        raise nothing_read
    model = load()
    os.makedirs(args.out, exist_ok=True)

    def write_drawing(image, result, path):
        Image.fromarray(draw_instances(image, result, class_names)).save(path)

    coco_results, counts, done = [], {}, []
    # The next images decode and the previous drawings are written while
    # the model detects (mrcnn.data.read_ahead).
    depth = getattr(args, "read_ahead", DEPTH)
    loaded = read_ahead(dataset.load_image, list(dataset.image_ids), depth=depth)
    with BackgroundWriter(depth=depth) as writer:
        for image_id, image, error in tqdm(loaded, total=len(dataset.image_ids),
                                           desc="predict", unit="img"):
            image_path = dataset.image_info[image_id]["path"]
            if error is not None:
                if not isinstance(error, (DatasetError, OSError)):
                    raise error
                # Pillow finds a truncated file only when decoding it.
                _skipped(error, tqdm.write)
                failed.append(image_path)
                continue
            result = _detect(model, image, keep)
            _count(counts, result, class_names)
            if args.format == "labelme":
                document = labelme_document(result, class_names, image_path, image.shape,
                                            args.out)
                writer.submit(write_labelme,
                              os.path.join(args.out, stem_of[image_path] + ".json"), document)
            else:
                writer.submit(write_drawing, image, result,
                              os.path.join(args.out, stem_of[image_path] + ".png"))
                coco_results.extend(results_to_coco(dataset, [image_id], [result]))
            done.append(image_id)
    if not done:
        raise nothing_read
    if args.format != "labelme":
        write_coco_results(os.path.join(args.out, "coco_results.json"), coco_results)
        with open(os.path.join(args.out, "coco_images.json"), "w", encoding="utf-8") as f:
            json.dump(coco_images_header(dataset, args.out, done), f)
    read = f"{len(done)} of {len(files)} images" if failed else f"{len(files)} images"
    print(f"{read}: {_found(counts)}; {args.format} output in {args.out}")
    if failed:
        names = ", ".join(os.path.basename(p) for p in failed[:5]) + (", ..." if len(failed) > 5 else "")
        print(f"{len(failed)} image{'s' if len(failed) > 1 else ''} failed and "
              f"{'were' if len(failed) > 1 else 'was'} skipped: {names}")
        return EXIT_SOME_FAILED
    return 0


def frame_detections(result, class_names):
    """A detect() result as the JSON-ready detections of one frame.

    result: "rois" int [N, (y1, x1, y2, x2)], "class_ids" [N], "scores" [N],
        "masks" bool [H, W, N].
    Returns: [{"class_id", "class_name", "score", "bbox": [x, y, w, h],
    "segmentation": COCO RLE}] in the result's order.
    """
    return [{"class_id": det["category_id"], "class_name": class_names[det["category_id"]],
             "score": det["score"], "bbox": det["bbox"], "segmentation": det["segmentation"]}
            for det in result_instances(result)]


def predict_video(args, project):
    """--video: <out>/<stem>.mp4 drawn and <out>/<stem>.jsonl. Returns 0."""
    from mrcnn.drawing import draw_instances

    if args.format == "labelme":
        raise UsageError("--format labelme: LabelMe JSONs are written for --images only; "
                         "--video writes a drawn MP4 and a JSON line per frame")
    stem = os.path.splitext(os.path.basename(args.video))[0]
    video_out = os.path.join(args.out, stem + ".mp4")
    jsonl_out = os.path.join(args.out, stem + ".jsonl")
    if os.path.abspath(video_out) == os.path.abspath(args.video):
        raise UsageError(f"--out {args.out}: the drawn video would overwrite the input "
                         f"{args.video}; choose another --out")
    # Opened now: a file OpenCV cannot read fails before the model is built.
    with VideoFrames(args.video) as video:
        class_names, load = model_loader(args, project)
        keep = class_filter(args, class_names)
        model = load()
        os.makedirs(args.out, exist_ok=True)
        counts = {}
        with open(jsonl_out, "w", encoding="utf-8") as lines:
            def draw(index, seconds, frame):
                result = _detect(model, frame, keep)
                _count(counts, result, class_names)
                record = {"frame": index, "time": round(seconds, 6),
                          "detections": frame_detections(result, class_names)}
                lines.write(json.dumps(record) + "\n")
                return draw_instances(frame, result, class_names)

            try:
                run = transform_video(video, video_out, draw, desc="predict")
            except DatasetError:
                lines.close()
                os.remove(jsonl_out)  # no frame: an empty file would look like a result
                raise
    print(f"{run.summary()}: {_found(counts)}")
    print(f"Drawn video: {video_out}; detections per frame: {jsonl_out}")
    return 0
