/**
 * What the simulated clients say about themselves: user agents, Accept and
 * Accept-Language values, and the paths scanners probe. The browser strings
 * are real ones; one of them is a known isbot false positive, so a model
 * that trusts `bot_agent` alone would block a real person.
 */

/** Real, common browser user agents: Chrome, Firefox, Safari, Edge, Samsung. */
export const MAINSTREAM_AGENTS: readonly string[] = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 12; SM-A525F) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36',
];

/** The browsers' pool: the mainstream agents and two odd but real ones. */
export const BROWSER_AGENTS: readonly string[] = [
  ...MAINSTREAM_AGENTS,
  // A real user's Chrome with an extension appending request details, reported
  // in omrilotan/isbot#269: isbot 5.2 flags it for the 'http' in it.
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36 ||| ReqID: 472 | TabID: 643408467 | FrameID: 0 | ParentFrameID: -1 | Type: xmlhttprequest | Time: 1722598417470 | Initiator: https://bummer.in',
  // Huawei's in-app browser (same report): 'search' in it, no longer flagged since.
  'Mozilla/5.0 (Linux; Android 10; STK-L21 Build/HUAWEISTK-L21; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.186 Mobile Safari/537.36HiSearch/22.0.6.315',
];

/** What a single-page app's fetches send. */
export const JSON_ACCEPT = 'application/json, text/plain, */*';
export const HTML_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

export const LANGUAGES: readonly string[] = [
  'en-US,en;q=0.9',
  'en-GB,en;q=0.9',
  'de-DE,de;q=0.9,en;q=0.8',
  'fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7',
  'es-ES,es;q=0.9',
  'ja-JP,ja;q=0.9,en;q=0.8',
];

export const MOBILE_AGENTS: readonly string[] = [
  'AcmeApp/3.2 (iPhone; iOS 17.1)',
  'AcmeApp/3.2 (iPad; iPadOS 17.1)',
  'AcmeApp/3.2.1 (Android 14; Pixel 8)',
  'AcmeApp/3.1.4 (Android 13; SM-S911B)',
];

export const BATCH_AGENT = 'acme-sync/1.4';

/** Scrapers' tools, each with the Accept it sends by default. */
export const SCRAPER_AGENTS: readonly { readonly ua: string; readonly accept: string }[] = [
  { ua: 'python-requests/2.31.0', accept: '*/*' },
  { ua: 'Scrapy/2.11.0 (+https://scrapy.org)', accept: HTML_ACCEPT },
  { ua: 'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)', accept: '*/*' },
  { ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36', accept: HTML_ACCEPT },
];

/** Stuffers' agents: often none at all. */
export const STUFFER_AGENTS: readonly (string | undefined)[] = [
  undefined,
  undefined,
  undefined,
  'python-requests/2.31.0',
  'Go-http-client/1.1',
  'okhttp/4.12.0',
  'axios/1.6.2',
];

export const SCANNER_AGENTS: readonly (string | undefined)[] = [undefined, 'curl/8.4.0'];

/** What 404 scanners probe; a path with a query is split at '?'. */
export const EXPLOIT_PATHS: readonly string[] = [
  '/.env',
  '/.env.production',
  '/.git/config',
  '/.git/HEAD',
  '/.aws/credentials',
  '/.DS_Store',
  '/wp-login.php',
  '/wp-admin/setup-config.php',
  '/wp-content/plugins/revslider/temp/update_extract/revslider/db.php',
  '/xmlrpc.php',
  '/admin/config.php',
  '/administrator/index.php',
  '/phpmyadmin/index.php',
  '/pma/index.php',
  '/config.json',
  '/config.php.bak',
  '/backup.sql',
  '/db.sql',
  '/server-status',
  '/actuator/env',
  '/actuator/health',
  '/api/v1/pods',
  '/console/login/LoginForm.jsp',
  '/cgi-bin/luci/;stok=/locale',
  '/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php',
  '/boaform/admin/formLogin',
  '/HNAP1/',
  '/solr/admin/info/system',
  '/owa/auth/logon.aspx',
  '/index.php?s=/Index/think/app/invokefunction',
  '/index.php?page=../../../../etc/passwd',
  '/robots.txt',
  '/api/login',
];

export const SEARCH_TERMS: readonly string[] = ['lamp', 'desk', 'red shoes', 'usb-c cable', 'coffee', 'tent', 'gift card', 'headphones'];
