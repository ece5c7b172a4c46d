// selenium-webdriver's file features through a grid: a remote.FileDetector upload that the page
// reads back, and a managed download (`se:downloadsEnabled: true`) that the page triggers and
// the client lists (getDownloadableFiles) and fetches (downloadFile). Prints one JSON line.
//
//   node selenium_files.js --grid http://HOST:PORT --page http://127.0.0.1:P/ --file PATH \
//       --download-name NAME --out DIR [--user-data-dir D]
//
// `remotePath` is what the grid answered the upload with: FileDetector quietly types the local
// path itself when the upload is not possible, which on one machine would still "work".
'use strict';

const fs = require('fs');
const path = require('path');
const JSZip = require('jszip');
const {Builder, By} = require('selenium-webdriver');
const chrome = require('selenium-webdriver/chrome');
const remote = require('selenium-webdriver/remote');
const {CHROMIUM, chromeArgs, expectEqual, pollUntil, runClient} = require('./client_common');

class RecordingFileDetector extends remote.FileDetector {
  constructor() {
    super();
    this.answers = [];
  }

  async handleFile(driver, file) {
    const answer = await super.handleFile(driver, file);
    this.answers.push(answer);
    return answer;
  }
}

async function upload(driver, args, result) {
  result.step = 'upload';
  const detector = new RecordingFileDetector();
  driver.setFileDetector(detector);
  await driver.get(`${args.page}upload.html`);
  await driver.findElement(By.id('file')).sendKeys(args.file);
  result.remotePath = detector.answers[detector.answers.length - 1] || null;
  result.pageFileName = await pollUntil(
      () => driver.findElement(By.id('file-name')).getText(), 10000, 'the page to read the file');
  result.pageFileText = await driver.findElement(By.id('file-text')).getText();
  expectEqual('file name the page saw', result.pageFileName, path.basename(args.file));
}

async function download(driver, args, result) {
  result.step = 'download';
  await driver.get(`${args.page}download.html`);
  await driver.findElement(By.id('download')).click();
  result.downloadable = await pollUntil(async () => {
    const names = await driver.getDownloadableFiles();
    return names.includes(args.downloadName) ? names : null;
  }, 15000, `${args.downloadName} in getDownloadableFiles()`);
  result.step = 'downloadFile';
  await driver.downloadFile(args.downloadName, args.out);
  // downloadFile writes the zip, then extracts it without waiting: read the zip itself.
  const zip = await JSZip.loadAsync(fs.readFileSync(path.join(args.out, `${args.downloadName}.zip`)));
  result.zipEntries = Object.keys(zip.files);
  const entry = zip.file(args.downloadName);
  if (!entry) throw new Error(`the zip has no ${args.downloadName}: ${result.zipEntries}`);
  result.downloadedBase64 = (await entry.async('nodebuffer')).toString('base64');
  result.step = 'deleteDownloadableFiles';
  await driver.deleteDownloadableFiles();
  result.afterDelete = await driver.getDownloadableFiles();
}

runClient(async (args, result) => {
  result.step = 'new session';
  const options = new chrome.Options().setChromeBinaryPath(CHROMIUM)
                      .addArguments(...chromeArgs(args.userDataDir)).enableDownloads();
  const driver = await new Builder().usingServer(args.grid).forBrowser('chrome')
                     .setChromeOptions(options).build();
  try {
    result.sessionId = (await driver.getSession()).getId();
    result.downloadsEnabled = (await driver.getCapabilities()).get('se:downloadsEnabled') || false;
    await upload(driver, args, result);
    await download(driver, args, result);
    if (args.event) {
      result.step = 'fireSessionEvent';
      result.event = await driver.fireSessionEvent(args.event, {from: 'selenium_files.js'});
    }
  } finally {
    result.quit = 'pending';
    await driver.quit().then(() => { result.quit = 'ok'; }, (e) => { result.quit = String(e); });
  }
});
