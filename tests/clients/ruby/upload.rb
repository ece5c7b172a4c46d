# Debian's ruby-selenium-webdriver through a grid: a `file_detector` upload that the page reads
# back. Prints one JSON line and exits 0 only when every step worked:
#
#   ruby upload.rb --grid http://HOST:PORT --page http://127.0.0.1:P/ --file PATH \
#       --user-data-dir DIR
#
# `remotePath` in the result is what the grid answered the upload (`/se/file`) with, so the test
# can tell an upload from the client typing its own local path.
require 'json'
require 'optparse'
require 'selenium-webdriver'

CHROMIUM = ENV.fetch('GRIDHUB_E2E_CHROMIUM', '/usr/bin/chromium')

# Records the node path each upload was answered with.
module RecordUploads
  def self.paths
    @paths ||= []
  end

  def upload(local_file)
    super.tap { |answer| RecordUploads.paths << answer }
  end
end
Selenium::WebDriver::Remote::Bridge.prepend(RecordUploads)

def parse_args
  args = {}
  OptionParser.new do |o|
    o.on('--grid URL') { |v| args[:grid] = v }
    o.on('--page URL') { |v| args[:page] = v }
    o.on('--file PATH') { |v| args[:file] = v }
    o.on('--user-data-dir DIR') { |v| args[:user_data_dir] = v }
  end.parse!
  %i[grid page file user_data_dir].each { |k| raise "--#{k.to_s.tr('_', '-')} is required" unless args[k] }
  args
end

def chrome_options(user_data_dir)
  options = Selenium::WebDriver::Chrome::Options.new(binary: CHROMIUM)
  %w[--headless --no-sandbox --disable-gpu --disable-background-networking
     --disable-component-update --disable-sync --no-first-run].each { |a| options.add_argument(a) }
  options.add_argument("--user-data-dir=#{user_data_dir}")
  options
end

# The element's text once it is not empty; bounded.
def wait_text(driver, id, timeout = 10)
  Selenium::WebDriver::Wait.new(timeout: timeout).until do
    text = driver.find_element(id: id).text
    text unless text.empty?
  end
end

def run(args, result)
  client = Selenium::WebDriver::Remote::Http::Default.new(read_timeout: 120, open_timeout: 30)
  driver = Selenium::WebDriver.for(:remote, url: args[:grid], capabilities: chrome_options(args[:user_data_dir]),
                                            http_client: client)
  begin
    result[:sessionId] = driver.session_id
    result[:step] = 'upload'
    driver.file_detector = ->(keys) { keys.first.to_s if File.exist?(keys.first.to_s) }
    driver.navigate.to("#{args[:page]}upload.html")
    driver.find_element(id: 'file').send_keys(args[:file])
    result[:remotePath] = RecordUploads.paths.last
    result[:pageFileName] = wait_text(driver, 'file-name')
    result[:pageFileText] = driver.find_element(id: 'file-text').text
  ensure
    result[:step] = 'quit' if result[:step] == 'upload' && result[:pageFileName]
    driver.quit
  end
end

result = {ok: false, step: 'new session'}
begin
  run(parse_args, result)
  result[:ok] = true
  result[:step] = 'done'
rescue StandardError => e
  result[:error] = "#{e.class}: #{e.message}"
end
puts JSON.generate(result)
exit(result[:ok] ? 0 : 1)
