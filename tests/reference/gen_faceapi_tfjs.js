// gen_faceapi_tfjs.js: parity fixtures for hrn's detect module from face-api itself, run on
// TensorFlow.js's pure-JS CPU backend (tests/test_detect.c reads them).
//
//   cd tests/reference && npm ci --ignore-scripts && node gen_faceapi_tfjs.js [REALDATA_DIR]
//
// Versions are pinned in package.json / package-lock.json (@vladmandic/face-api 1.7.15, whose
// model/ folder holds the weights, and @tensorflow/tfjs 4.22.0). Writes tests/data/faceapi/:
// fixtures.json (cases, boxes, scores, landmarks) and one little-endian float32 .bin per raw
// network output. Per face also the 128-D descriptor of face_recognition_model on the same crop
// (FaceRecognitionNet.computeFaceDescriptor: centred padding, resize to 150). Cases:
// - "synth": a 200x150 procedural image (the formula below, repeated in test_detect.c), so the
//   raw outputs are tested without any photo; the landmark net on a fixed non-square crop.
// - the real photos of ../shared/realdata (not copied: only the numbers are stored), decoded by
//   Debian's python3-pil (libjpeg-turbo, as hrn) into raw RGB.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// tfjs 4.22's ES-module build imports files and folders without '.js' or '/index.js' (fine for
// bundlers, not for node): a resolve hook adds them.
const hook = `export async function resolve(s, c, next) {
  try { return await next(s, c); } catch (e) {
    const dir = e.code === 'ERR_UNSUPPORTED_DIR_IMPORT';
    if (!dir && (e.code !== 'ERR_MODULE_NOT_FOUND' || s.endsWith('.js'))) throw e;
    try { return await next(s + '.js', c); } catch (e2) {
      if (!dir) throw e2;
      return next(s + '/index.js', c);
    }
  }
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
const warn = console.warn; // the WebGL backend's "already registered" lines, one per kernel
console.warn = () => {};
const faceapi = await import('@vladmandic/face-api/dist/face-api.esm-nobundle.js');
console.warn = warn;
const tf = faceapi.tf;
const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, '..', 'data', 'faceapi');
const modelDir = path.join(here, 'node_modules', '@vladmandic', 'face-api', 'model');
const realdata = process.argv[2] || path.join(here, '..', '..', '..', 'shared', 'realdata');

function loadNet(net, stem) {
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, `${stem}-weights_manifest.json`)));
  const specs = manifest.flatMap((g) => g.weights);
  const bins = manifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(modelDir, p))));
  const buf = Buffer.concat(bins);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  net.loadFromWeightMap(tf.io.decodeWeights(ab, specs));
}

// The procedural test image: RGB bytes of pixel (x, y).
function synthImage(w, h) {
  const px = new Int32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) px[(y * w + x) * 3 + c] = (x * 7 + y * 13 + c * 50 + ((x * y) >> 3)) & 255;
    }
  }
  return px;
}

// A photo decoded by PIL (libjpeg-turbo for JPEGs, as hrn's reader).
function readPhoto(file) {
  const py = 'import sys;from PIL import Image;im=Image.open(sys.argv[1]).convert("RGB");'
    + 'sys.stdout.write("%d %d\\n"%im.size);sys.stdout.flush();sys.stdout.buffer.write(im.tobytes())';
  const raw = execFileSync('/usr/bin/python3', ['-c', py, file], { maxBuffer: 1 << 28 });
  const nl = raw.indexOf(10);
  const [w, h] = raw.subarray(0, nl).toString().split(' ').map(Number);
  return { w, h, px: Int32Array.from(raw.subarray(nl + 1)) };
}

function writeBin(name, data) {
  fs.writeFileSync(path.join(outDir, name), Buffer.from(Float32Array.from(data).buffer));
  return name;
}

// One image through face-api: the detector's raw output, its detections, and per detection the
// crop, the landmark net's raw output and face-api's landmarks.
async function runCase(name, img, inputSize, scoreThreshold) {
  const t = tf.tensor3d(img.px, [img.h, img.w, 3], 'int32');
  const det = faceapi.nets.tinyFaceDetector;
  const lm = faceapi.nets.faceLandmark68Net;
  const raw = tf.tidy(() => det.forwardInput(new faceapi.NetInput([t]), inputSize));
  const opts = new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold });
  const results = await faceapi.detectAllFaces(t, opts).withFaceLandmarks();
  const faces = [];
  for (const r of results) {
    const box = r.detection.box;
    const crop = box.clipAtImageBorders(img.w, img.h);
    const [faceT] = await faceapi.extractFaceTensors(t, [r.detection]);
    const out = tf.tidy(() => lm.runNet(new faceapi.NetInput([faceT])));
    const desc = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(faceT);
    faces.push({
      score: r.detection.score,
      box: [box.x, box.y, box.width, box.height],
      crop: [crop.x, crop.y, crop.width, crop.height],
      lm_raw: writeBin(`${name}_${inputSize}_face${faces.length}_lm.bin`, out.dataSync()),
      landmarks: r.landmarks.positions.flatMap((p) => [p.x, p.y]),
      desc: writeBin(`${name}_${inputSize}_face${faces.length}_desc.bin`, desc),
    });
    faceT.dispose();
    out.dispose();
  }
  const c = {
    name, width: img.w, height: img.h, input_size: inputSize, score_threshold: scoreThreshold,
    det_raw: writeBin(`${name}_${inputSize}_det.bin`, raw.dataSync()), faces,
  };
  raw.dispose();
  t.dispose();
  return c;
}

// The landmark net alone on a crop of the synthetic image (odd padding: 61x52).
async function landmarkOnCrop(img, crop) {
  const [x, y, w, h] = crop;
  const t = tf.tensor3d(img.px, [img.h, img.w, 3], 'int32');
  const faceT = tf.slice3d(t, [y, x, 0], [h, w, 3]);
  const out = tf.tidy(() => faceapi.nets.faceLandmark68Net.runNet(new faceapi.NetInput([faceT])));
  const r = { crop, lm_raw: writeBin('synth_crop_lm.bin', out.dataSync()) };
  r.desc = writeBin('synth_crop_desc.bin', await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(faceT));
  [t, faceT, out].forEach((v) => v.dispose());
  return r;
}

// The identity loss 1 - cos(descriptor(x), target) of hrn's w_feat term and its gradient with
// respect to a 150x150 float image x (0..255, the procedural formula at 150x150, so that the net
// sees it without a resize), target = the synthetic crop's descriptor. The gradient is kept on
// every 5th row and column (30x30x3 values, HWC) to keep the fixture small.
function identityGradient(targetDesc) {
  const fr = faceapi.nets.faceRecognitionNet;
  const x = tf.tensor3d(Float32Array.from(synthImage(150, 150)), [150, 150, 3], 'float32');
  const tn = tf.tensor1d(targetDesc).div(tf.tensor1d(targetDesc).norm());
  const loss = (v) => {
    const d = fr.forwardInput(new faceapi.NetInput([v])).reshape([128]);
    return tf.scalar(1).sub(d.div(d.norm()).mul(tn).sum());
  };
  const { value, grad } = tf.valueAndGrad(loss)(x);
  const g = grad.dataSync(), sub = [];
  for (let y = 0; y < 150; y += 5) for (let i = 0; i < 150; i += 5) for (let c = 0; c < 3; c++) sub.push(g[(y * 150 + i) * 3 + c]);
  const r = { size: 150, stride: 5, loss: value.dataSync()[0], grad: writeBin('identity_grad.bin', sub) };
  [x, tn, value, grad].forEach((v) => v.dispose());
  return r;
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  loadNet(faceapi.nets.tinyFaceDetector, 'tiny_face_detector_model');
  loadNet(faceapi.nets.faceLandmark68Net, 'face_landmark_68_model');
  loadNet(faceapi.nets.faceRecognitionNet, 'face_recognition_model');
  fs.mkdirSync(outDir, { recursive: true });
  const synth = { w: 200, h: 150, px: synthImage(200, 150) };
  const cases = [await runCase('synth', synth, 416, 0.05)];
  const photos = [['image_0010', 'eos_example/image_0010.png'], ['2008_002506', 'dlib_faces/2008_002506.jpg'],
    ['2007_007763', 'dlib_faces/2007_007763.jpg']];
  for (const [name, rel] of photos) {
    const file = path.join(realdata, rel);
    if (!fs.existsSync(file)) throw new Error(`${file} not found: pass the realdata folder`);
    const c = await runCase(name, readPhoto(file), 608, 0.3);
    c.realdata = rel;
    cases.push(c);
  }
  const fixtures = {
    generator: 'tests/reference/gen_faceapi_tfjs.js',
    face_api: '@vladmandic/face-api 1.7.15',
    tfjs: tf.version_core,
    backend: tf.getBackend(),
    synth_crop: await landmarkOnCrop(synth, [37, 41, 61, 52]),
    cases,
  };
  const sd = fs.readFileSync(path.join(outDir, fixtures.synth_crop.desc));
  fixtures.identity = identityGradient(new Float32Array(sd.buffer, sd.byteOffset, 128));
  fs.writeFileSync(path.join(outDir, 'fixtures.json'), `${JSON.stringify(fixtures, null, 1)}\n`);
  const all = fs.readdirSync(outDir);
  const keep = new Set(['fixtures.json', fixtures.synth_crop.lm_raw, fixtures.synth_crop.desc,
    fixtures.identity.grad,
    ...cases.flatMap((c) => [c.det_raw, ...c.faces.flatMap((f) => [f.lm_raw, f.desc])])]);
  all.filter((f) => !keep.has(f)).forEach((f) => fs.unlinkSync(path.join(outDir, f)));
  console.log(`wrote ${keep.size} files to ${outDir} (tfjs ${tf.version_core}, ${tf.getBackend()})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
