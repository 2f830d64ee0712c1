/* Photos are shrunk on the phone before they are stored or sent: a 12-megapixel shot becomes a ~1280 px JPEG. */
(function (FS) {
  'use strict';

  const MAX_SIDE = 1280;
  const QUALITY = 0.8;

  async function decode(file) {
    if (self.createImageBitmap) {
      try {
        return await createImageBitmap(file, { imageOrientation: 'from-image' });
      } catch (err) {
        // Some formats only decode through an <img>: fall through.
      }
    }
    const url = URL.createObjectURL(file);
    try {
      const img = new Image();
      img.src = url;
      await img.decode();
      return img;
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  /* A JPEG Blob of *file*, at most MAX_SIDE pixels on its longer side. */
  async function compressPhoto(file) {
    const source = await decode(file);
    const width = source.width || source.naturalWidth;
    const height = source.height || source.naturalHeight;
    const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff'; // transparent PNGs would turn black in a JPEG
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
    if (source.close) source.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', QUALITY));
    if (!blob) throw new Error('the photo could not be compressed');
    return { blob, width: canvas.width, height: canvas.height };
  }

  function dataUrlToBlob(dataUrl) {
    const [head, body] = dataUrl.split(',');
    const type = head.slice(5, head.indexOf(';'));
    const bytes = atob(body);
    const array = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) array[i] = bytes.charCodeAt(i);
    return new Blob([array], { type });
  }

  FS.images = { compressPhoto, dataUrlToBlob, MAX_SIDE };
})(self.FS = self.FS || {});
