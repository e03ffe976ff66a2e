// Uploads a file to Imagegram with the real tus-js-client, in 1 MB chunks,
// with the network failing once in the middle (the third PATCH is refused
// before it is sent, as a dropped connection would). Prints the post path.
//
//   node upload.mjs <base url> <token> <file> <caption>
import * as fs from 'node:fs';
import { Upload, DefaultHttpStack } from 'tus-js-client';

const [base, token, path, caption] = process.argv.slice(2);
const stack = new DefaultHttpStack();
let patches = 0;
let failed = false;
const flaky = {
  getName: () => 'FlakyStack',
  createRequest(method, url) {
    const request = stack.createRequest(method, url);
    if (method === 'PATCH') {
      patches += 1;
      if (patches === 3 && !failed) {
        failed = true;
        request.send = () => Promise.reject(new Error('network down (forced by the test)'));
      }
    }
    return request;
  },
};

const file = fs.readFileSync(path);
let post = null;
const upload = new Upload(file, {
  endpoint: `${base}/v1/uploads`,
  chunkSize: 1024 * 1024,
  retryDelays: [0, 100, 500],
  headers: { Authorization: `Bearer ${token}` },
  metadata: { caption, filename: 'big.png' },
  httpStack: flaky,
  onAfterResponse(request, response) {
    const named = response.getHeader('Imagegram-Post');
    if (named) post = named;
  },
  onError(error) {
    console.error(`upload failed: ${error}`);
    process.exit(1);
  },
  onSuccess() {
    if (!failed) {
      console.error('the forced failure never happened');
      process.exit(1);
    }
    console.log(JSON.stringify({ post, patches, url: upload.url }));
  },
});
upload.start();
