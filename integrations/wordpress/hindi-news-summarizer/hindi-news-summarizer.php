<?php
/**
 * Plugin Name: Hindi News Summarizer
 * Description: "Summarize & translate" for Hindi and other Indian-language posts: English translation (HTML kept) and summaries in the post's language and in English from the newsroom's summarization service, stored as post meta, with the service's review of each result. The post's language is the site's, a per-post choice, or detected by the service. Asynchronous: a job per publish or update, its result delivered to a signed webhook.
 * Version: 0.3.0
 * Requires PHP: 7.4
 * License: MIT
 */

if (!defined('ABSPATH')) {
    exit;
}

const HNS_OPTION = 'hns_settings';
// summary_native: the summary in the post's own language (summary_hi stays for Hindi sites' themes); source_lang: the
// language the service read the post as (FLORES-200 code).
const HNS_META = array('summary_native', 'summary_hi', 'summary_en', 'translation_en', 'translation_html_en', 'source_lang');
// The languages the service serves (its GET /languages): FLORES-200 code => (ISO 639 code, name).
const HNS_LANGUAGES = array(
    'asm_Beng' => array('as', 'Assamese'),
    'ben_Beng' => array('bn', 'Bengali'),
    'brx_Deva' => array('brx', 'Bodo'),
    'doi_Deva' => array('doi', 'Dogri'),
    'gom_Deva' => array('gom', 'Konkani'),
    'guj_Gujr' => array('gu', 'Gujarati'),
    'hin_Deva' => array('hi', 'Hindi'),
    'kan_Knda' => array('kn', 'Kannada'),
    'kas_Arab' => array('ks', 'Kashmiri'),
    'kas_Deva' => array('ks', 'Kashmiri'),
    'mai_Deva' => array('mai', 'Maithili'),
    'mal_Mlym' => array('ml', 'Malayalam'),
    'mar_Deva' => array('mr', 'Marathi'),
    'mni_Beng' => array('mni', 'Manipuri'),
    'mni_Mtei' => array('mni', 'Manipuri'),
    'npi_Deva' => array('ne', 'Nepali'),
    'ory_Orya' => array('or', 'Odia'),
    'pan_Guru' => array('pa', 'Punjabi'),
    'san_Deva' => array('sa', 'Sanskrit'),
    'sat_Olck' => array('sat', 'Santali'),
    'snd_Arab' => array('sd', 'Sindhi'),
    'snd_Deva' => array('sd', 'Sindhi'),
    'tam_Taml' => array('ta', 'Tamil'),
    'tel_Telu' => array('te', 'Telugu'),
    'urd_Arab' => array('ur', 'Urdu'),
);
const HNS_SUBMIT_TIMEOUT = 10; // seconds: submitting a job is quick; nobody waits for the work itself
const HNS_MAX_FINDINGS_SHOWN = 50; // the service lists at most SUMMARIZER_MAX_FINDINGS per result; this is the panel's own cap

/** Settings with defaults. The API key and the webhook secret stay on the server: never printed into a page. */
function hns_settings() {
    $saved = get_option(HNS_OPTION, array());
    return wp_parse_args(is_array($saved) ? $saved : array(),
                         array('url' => '', 'api_key' => '', 'webhook_secret' => '', 'timeout' => 120,
                               'language' => 'site', 'hold' => 0));
}

// --- settings page (Settings → Hindi News Summarizer), administrators only -------------------------------------
add_action('admin_menu', function () {
    add_options_page('Hindi News Summarizer', 'Hindi News Summarizer', 'manage_options', 'hns', 'hns_settings_page');
});

add_action('admin_init', function () {
    register_setting('hns', HNS_OPTION, array('sanitize_callback' => 'hns_sanitize_settings'));
});

function hns_sanitize_settings($input) {
    $current = hns_settings();
    // An empty secret field keeps the stored value (the page never shows it); "-" clears it.
    $kept = function ($name) use ($input, $current) {
        $value = isset($input[$name]) ? trim((string) $input[$name]) : '';
        return $value === '' ? $current[$name] : ($value === '-' ? '' : sanitize_text_field($value));
    };
    return array(
        'url' => esc_url_raw(trim((string) ($input['url'] ?? ''))),
        'api_key' => $kept('api_key'),
        'webhook_secret' => $kept('webhook_secret'),
        'timeout' => max(5, min(600, (int) ($input['timeout'] ?? 120))),
        'language' => hns_language_choice($input['language'] ?? 'site', array('site', 'detect')) ?? 'site',
        'hold' => empty($input['hold']) ? 0 : 1,
    );
}

/** The choice if it is one of $words or a served language's code, else null (a forged form field changes nothing). */
function hns_language_choice($value, $words) {
    if (!is_string($value)) {
        return null;
    }
    return in_array($value, $words, true) || isset(HNS_LANGUAGES[$value]) ? $value : null;
}

/** The site's language when the service serves it: WordPress's locale (hi_IN, bn_BD, mr, ory, …) by ISO code. */
function hns_site_language() {
    $lang = strtolower(strtok((string) get_locale(), '_'));
    foreach (HNS_LANGUAGES as $code => $language) {
        if ($lang === $language[0] || $lang === substr($code, 0, 3)) {
            return $code;
        }
    }
    return null;
}

/** The source_lang a post is sent with: its own choice, else the site setting; null lets the service detect it. */
function hns_source_lang($post_id) {
    $choice = get_post_meta($post_id, '_hns_language', true) ?: hns_settings()['language'];
    if ($choice === 'site') {
        return hns_site_language();
    }
    return isset(HNS_LANGUAGES[$choice]) ? $choice : null;
}

/** <option>s of a language choice: the given words first, then every served language. */
function hns_language_options($words, $selected) {
    $names = array();
    foreach (HNS_LANGUAGES as $code => $language) {
        $names[$code] = $language[1] . ' (' . $code . ')'; // Kashmiri, Sindhi, Manipuri: two scripts each
    }
    foreach ($words + $names as $value => $label) {
        echo '<option value="' . esc_attr($value) . '"' . selected($selected, $value, false) . '>' . esc_html($label) . '</option>';
    }
}

function hns_settings_page() {
    if (!current_user_can('manage_options')) {
        wp_die(esc_html__('You are not allowed to change these settings.'), 403);
    }
    $s = hns_settings();
    ?>
    <div class="wrap">
      <h1>Hindi News Summarizer</h1>
      <form method="post" action="options.php">
        <?php settings_fields('hns'); ?>
        <table class="form-table" role="presentation">
          <tr><th scope="row"><label for="hns-url">Service URL</label></th>
              <td><input id="hns-url" class="regular-text" type="url" name="<?php echo esc_attr(HNS_OPTION); ?>[url]"
                         value="<?php echo esc_attr($s['url']); ?>" placeholder="http://summarizer.internal:8000"></td></tr>
          <tr><th scope="row"><label for="hns-key">API key</label></th>
              <td><input id="hns-key" class="regular-text" type="password" autocomplete="off"
                         name="<?php echo esc_attr(HNS_OPTION); ?>[api_key]" value="">
                  <p class="description"><?php echo $s['api_key'] ? 'A key is stored. Leave empty to keep it, type - to remove it.' : 'No key stored.'; ?></p></td></tr>
          <tr><th scope="row"><label for="hns-secret">Webhook secret</label></th>
              <td><input id="hns-secret" class="regular-text" type="password" autocomplete="off"
                         name="<?php echo esc_attr(HNS_OPTION); ?>[webhook_secret]" value="">
                  <p class="description">The service's SUMMARIZER_WEBHOOK_SECRET: results are accepted only when signed with it.
                  <?php echo $s['webhook_secret'] ? 'A secret is stored.' : 'No secret stored: results cannot be received.'; ?></p></td></tr>
          <tr><th scope="row"><label for="hns-timeout">Timeout (seconds)</label></th>
              <td><input id="hns-timeout" type="number" min="5" max="600" name="<?php echo esc_attr(HNS_OPTION); ?>[timeout]"
                         value="<?php echo esc_attr($s['timeout']); ?>"></td></tr>
          <tr><th scope="row"><label for="hns-language">Posts' language</label></th>
              <td><select id="hns-language" name="<?php echo esc_attr(HNS_OPTION); ?>[language]">
                  <?php $site = hns_site_language();
                  hns_language_options(array('site' => 'The site\'s language (' . ($site ? HNS_LANGUAGES[$site][1] : 'not served: detected') . ')',
                                             'detect' => 'Detected per post by the service'), $s['language']); ?></select>
                  <p class="description">Each post may choose its own in its "Summarize &amp; translate" panel.</p></td></tr>
          <tr><th scope="row">Review</th>
              <td><label><input id="hns-hold" type="checkbox" name="<?php echo esc_attr(HNS_OPTION); ?>[hold]" value="1"
                         <?php checked($s['hold'], 1); ?>> Hold results that need review until an editor accepts them</label>
                  <p class="description">The service checks every result (figures, names, links, glossary terms). With this
                  set, a result it flags is shown in the post's panel but not stored as the post's summary meta until an
                  editor presses "Accept".</p></td></tr>
        </table>
        <?php submit_button(); ?>
      </form>
    </div>
    <?php
}

// --- the post-editor panel -------------------------------------------------------------------------------------
add_action('add_meta_boxes', function () {
    add_meta_box('hns-box', 'Summarize & translate', 'hns_meta_box', array('post', 'page'), 'side');
});

function hns_meta_box($post) {
    $nonce = wp_create_nonce('hns_summarize');
    echo '<div id="hns-panel" data-post="' . esc_attr($post->ID) . '" data-nonce="' . esc_attr($nonce) . '">';
    echo '<p><label for="hns-lang">Language</label> <select id="hns-lang" name="hns_language">';
    hns_language_options(array('' => 'Site setting', 'detect' => 'Detect'), get_post_meta($post->ID, '_hns_language', true));
    echo '</select></p>';
    wp_nonce_field('hns_language', 'hns_language_nonce');
    echo '<p><button type="button" class="button button-primary" id="hns-run">Summarize &amp; translate</button></p>';
    echo '<div id="hns-error" class="notice notice-error inline" hidden></div>';
    echo '<p id="hns-state" role="status" aria-live="polite" data-state="' . esc_attr(get_post_meta($post->ID, '_hns_state', true)) . '">'
        . esc_html(hns_state_words($post->ID)) . '</p>';
    $read_as = $status['source_lang'];
    $native = isset(HNS_LANGUAGES[$read_as]) ? HNS_LANGUAGES[$read_as][1] . ' summary' : 'Summary in the post\'s language';
    echo '<div id="hns-review"' . ($status['review'] === '' ? ' hidden' : '') . ' data-review="' . esc_attr($status['review']) . '">'
        . '<p><strong id="hns-review-words">' . esc_html(hns_review_words($status)) . '</strong></p><ul id="hns-findings">';
    foreach ($status['checks'] as $finding) {
        echo '<li>' . esc_html(hns_finding_words($finding)) . '</li>';
    }
    echo '</ul><p><button type="button" class="button" id="hns-accept"' . ($status['held'] ? '' : ' hidden')
        . '>Accept and store the summaries</button></p></div>';
    foreach (array('summary_native' => $native, 'summary_en' => 'English summary', 'translation_en' => 'English translation') as $key => $label) {
        $value = $status[$key];
        echo '<p><strong>' . esc_html($label) . '</strong></p><div id="hns-' . esc_attr($key) . '" style="white-space:pre-wrap">' . esc_html($value) . '</div>';
    }
    echo '</div>';
}

/** Where the post's summary job stands, in an editor's words. */
function hns_state_words($post_id) {
    $state = get_post_meta($post_id, '_hns_state', true);
    $words = array('queued' => 'Summaries are being made; they appear here when ready.',
                   'done' => 'Summaries are up to date.', '' => 'No summary yet.',
                   'held' => 'Summaries are ready but held: they need review. Read the findings, then accept them.');
    if ($state === 'error') {
        return 'The last request failed: ' . get_post_meta($post_id, '_hns_error', true);
    }
    return $words[$state] ?? '';
}

/** The service's verdict on the latest result, in an editor's words ('' before any result). */
function hns_review_words($status) {
    if ($status['review'] === 'needs_review') {
        $count = count($status['checks']);
        return 'Needs review: ' . $count . ' finding' . ($count === 1 ? '' : 's') . ($status['held'] ? ' (held until accepted)' : '') . '.';
    }
    return $status['review'] === 'ok' ? 'The checks found nothing to look at (read it anyway).' : '';
}

/** One finding as a line: what, where, the text, why. */
function hns_finding_words($finding) {
    $text = $finding['text'] !== '' ? ' "' . $finding['text'] . '"' : '';
    return $finding['check'] . ' (' . $finding['severity'] . ') in ' . $finding['where'] . $text . ': ' . $finding['detail'];
}

/** The findings of a webhook's result as the plugin keeps them: known fields only, plain text, bounded. */
function hns_clean_findings($checks) {
    $kept = array();
    foreach (is_array($checks) ? array_slice($checks, 0, HNS_MAX_FINDINGS_SHOWN) : array() as $finding) {
        if (!is_array($finding)) {
            continue;
        }
        $kept[] = array(
            'check' => sanitize_key((string) ($finding['check'] ?? '')),
            'severity' => ($finding['severity'] ?? '') === 'error' ? 'error' : 'warning',
            'where' => sanitize_text_field((string) ($finding['where'] ?? '')),
            'text' => sanitize_text_field((string) ($finding['text'] ?? '')),
            'detail' => sanitize_text_field((string) ($finding['detail'] ?? '')),
        );
    }
    return $kept;
}

add_action('admin_enqueue_scripts', function ($hook) {
    if ($hook !== 'post.php' && $hook !== 'post-new.php') {
        return;
    }
    wp_enqueue_script('hns-editor', plugins_url('editor.js', __FILE__), array(), '0.3.0', true);
    wp_localize_script('hns-editor', 'hnsConfig', array('ajaxUrl' => admin_url('admin-ajax.php')));
});

// --- the action: server side, nonce- and capability-checked ------------------------------------------------------
add_action('wp_ajax_hns_summarize', 'hns_ajax_summarize');

/**
 * Submit the post as a job (its HTML; the translation keeps the markup) with this site's webhook as callback.
 * Records the job on the post: _hns_job, _hns_state = queued, or _hns_state = error with _hns_error.
 */
function hns_submit_job($post, $priority) {
    $s = hns_settings();
    $result = null;
    if (trim(wp_strip_all_tags((string) $post->post_content)) === '') {
        $result = new WP_Error('hns_empty', 'The post has no text to summarize yet. Save it first.');
    } elseif (!$s['webhook_secret']) {
        $result = new WP_Error('hns_no_secret', 'The webhook secret is not set (Settings → Hindi News Summarizer).');
    } else {
        $result = hns_call_service('/jobs', array(
            'id' => (string) $post->ID,
            'text' => (string) $post->post_content,
            'options' => array('format' => 'html'),
            'callback_url' => rest_url('hns/v1/result'),
            'priority' => $priority,
        ) + array_filter(array('source_lang' => hns_source_lang($post->ID))), HNS_SUBMIT_TIMEOUT);
    }
    if (is_wp_error($result)) {
        update_post_meta($post->ID, '_hns_state', 'error');
        update_post_meta($post->ID, '_hns_error', wp_slash($result->get_error_message()));
        return $result;
    }
    update_post_meta($post->ID, '_hns_job', sanitize_text_field($result['job_id']));
    update_post_meta($post->ID, '_hns_state', 'queued');
    delete_post_meta($post->ID, '_hns_error');
    return $result['job_id'];
}

/** POST to the service; returns the decoded answer or a WP_Error whose message an editor can act on. */
function hns_call_service($path, $payload, $timeout) {
    $s = hns_settings();
    if (!$s['url']) {
        return new WP_Error('hns_not_configured', 'The summarization service URL is not set (Settings → Hindi News Summarizer).');
    }
    $headers = array('Content-Type' => 'application/json');
    if ($s['api_key']) {
        $headers['X-API-Key'] = $s['api_key'];
    }
    $response = wp_remote_post(rtrim($s['url'], '/') . $path, array(
        'headers' => $headers,
        'timeout' => (int) $timeout,
        'body' => wp_json_encode($payload),
    ));
    if (is_wp_error($response)) {
        $message = $response->get_error_message();
        if (stripos($message, 'timed out') !== false) {
            return new WP_Error('hns_timeout', 'The service did not answer within ' . $timeout . ' seconds. Try again later.');
        }
        return new WP_Error('hns_unreachable', 'The service could not be reached: ' . $message);
    }
    $status = (int) wp_remote_retrieve_response_code($response);
    $body = json_decode(wp_remote_retrieve_body($response), true);
    if ($status !== 200 && $status !== 202) {
        $detail = isset($body['error']['message']) ? $body['error']['message'] : 'HTTP ' . $status;
        $hints = array(401 => 'The service needs an API key (settings).', 403 => 'The API key was not accepted (settings).',
                       429 => 'The service is busy; try again shortly.', 503 => 'The service is starting or restarting; try again in a minute.');
        return new WP_Error('hns_http_' . $status, trim(($hints[$status] ?? 'The service refused the article.') . ' ' . $detail));
    }
    return $body;
}

/** Nonce and capability checks of the panel's actions; the post on success. */
function hns_ajax_post() {
    $post_id = isset($_POST['post_id']) ? absint($_POST['post_id']) : 0;
    // The nonce proves the request comes from this user's editor page; the capability check decides per post.
    if (!$post_id || !check_ajax_referer('hns_summarize', 'nonce', false)) {
        wp_send_json_error(array('message' => 'This page has expired; reload it and try again.'), 403);
    }
    if (!current_user_can('edit_post', $post_id)) {
        wp_send_json_error(array('message' => 'You are not allowed to edit this post.'), 403);
    }
    return get_post($post_id);
}

/** "Summarize & translate" in the panel: submits a job ahead of archive work, answers at once. */
function hns_ajax_summarize() {
    $post = hns_ajax_post();
    hns_store_language($post->ID, isset($_POST['source_lang']) ? wp_unslash($_POST['source_lang']) : null); // the panel's choice, checked like the rest
    $job = hns_submit_job($post, 'interactive');
    if (is_wp_error($job)) {
        wp_send_json_error(array('message' => $job->get_error_message()), 502);
    }
    wp_send_json_success(hns_status_of($post->ID));
}

add_action('wp_ajax_hns_status', function () {
    $post = hns_ajax_post();
    wp_send_json_success(hns_status_of($post->ID));
});

/**
 * Where the post stands, for the panel: the state, the review and its findings, and the results (the held ones while
 * a result waits for an editor's acceptance).
 */
function hns_status_of($post_id) {
    $held = get_post_meta($post_id, '_hns_held', true);
    $checks = get_post_meta($post_id, '_hns_checks', true);
    $status = array('state' => (string) get_post_meta($post_id, '_hns_state', true), 'words' => hns_state_words($post_id),
                    'review' => (string) get_post_meta($post_id, '_hns_review', true),
                    'checks' => is_array($checks) ? $checks : array(), 'held' => is_array($held));
    foreach (HNS_META as $key) {
        $status[$key] = is_array($held) ? (string) ($held[$key] ?? '') : (string) get_post_meta($post_id, $key, true);
    }
    $status['review_words'] = hns_review_words($status);
    return $status;
}

/** Store a result's values as the post's meta (the summary meta a theme shows). */
function hns_store_values($post_id, $values) {
    foreach ($values as $key => $value) {
        update_post_meta($post_id, $key, wp_slash($value));
    }
}

/** "Accept" in the panel: a held result becomes the post's meta. */
add_action('wp_ajax_hns_accept', function () {
    $post = hns_ajax_post();
    $held = get_post_meta($post->ID, '_hns_held', true);
    if (!is_array($held)) {
        wp_send_json_error(array('message' => 'There is no held result to accept (it may have been accepted already).'), 409);
    }
    hns_store_values($post->ID, $held);
    delete_post_meta($post->ID, '_hns_held');
    update_post_meta($post->ID, '_hns_accepted_by', get_current_user_id());
    update_post_meta($post->ID, '_hns_state', 'done');
    wp_send_json_success(hns_status_of($post->ID));
});

// --- publish and update: a job each (bulk priority); a failure never stops the save ------------------------------
add_action('transition_post_status', function ($new_status, $old_status, $post) {
    if ($new_status !== 'publish' || !in_array($post->post_type, array('post', 'page'), true)
        || wp_is_post_revision($post) || wp_is_post_autosave($post) || !hns_settings()['url']) {
        return;
    }
    hns_language_from_form($post->ID); // a classic-editor save: WordPress runs this hook before save_post
    hns_submit_job($post, 'bulk'); // errors are recorded on the post and shown in its panel
}, 10, 3);

add_action('save_post', 'hns_language_from_form');

/** The panel's language field of a saved post form, when its nonce and the user's capability allow it. */
function hns_language_from_form($post_id) {
    if (isset($_POST['hns_language'], $_POST['hns_language_nonce']) && current_user_can('edit_post', $post_id)
        && wp_verify_nonce(sanitize_text_field(wp_unslash($_POST['hns_language_nonce'])), 'hns_language')) {
        hns_store_language($post_id, wp_unslash($_POST['hns_language']));
    }
}

/** A post's own language choice: '' (the site setting), 'detect', or a served language; anything else is ignored. */
function hns_store_language($post_id, $value) {
    $choice = $value === null ? null : hns_language_choice($value, array('', 'detect'));
    if ($choice !== null) {
        update_post_meta($post_id, '_hns_language', $choice);
    }
}

// --- the webhook: results arrive here, signed by the service ------------------------------------------------------
add_action('rest_api_init', function () {
    register_rest_route('hns/v1', '/result', array(
        'methods' => 'POST',
        'callback' => 'hns_receive_result',
        'permission_callback' => '__return_true', // the signature below is the permission
    ));
});

/** True when the body is signed with the shared secret, over "<timestamp>.<body>", within five minutes. */
function hns_signature_ok($body, $timestamp, $signature) {
    $secret = hns_settings()['webhook_secret'];
    if (!$secret || !ctype_digit((string) $timestamp) || abs(time() - (int) $timestamp) > 300) {
        return false;
    }
    $expected = 'sha256=' . hash_hmac('sha256', $timestamp . '.' . $body, $secret);
    return hash_equals($expected, (string) $signature);
}

function hns_receive_result(WP_REST_Request $request) {
    $body = $request->get_body();
    if (!hns_signature_ok($body, $request->get_header('x_signature_timestamp'), $request->get_header('x_signature'))) {
        return new WP_Error('hns_bad_signature', 'The signature does not match.', array('status' => 401));
    }
    $data = json_decode($body, true);
    $job = is_array($data) ? sanitize_text_field((string) ($data['job_id'] ?? '')) : '';
    // The post whose latest job this is: an older job's late result never overwrites a newer one.
    $posts = $job === '' ? array() : get_posts(array('post_type' => array('post', 'page'), 'post_status' => 'any',
        'meta_key' => '_hns_job', 'meta_value' => $job, 'fields' => 'ids', 'numberposts' => 1));
    if (!$posts) {
        return new WP_REST_Response(array('stored' => false, 'reason' => 'no post waits for this job'), 200);
    }
    $post_id = $posts[0];
    if (($data['status'] ?? '') !== 'done') {
        update_post_meta($post_id, '_hns_state', 'error');
        update_post_meta($post_id, '_hns_error', wp_slash((string) ($data['error']['message'] ?? 'the job failed')));
        return new WP_REST_Response(array('stored' => true), 200);
    }
    $result = $data['result'];
    $read_as = (string) ($result['meta']['source_lang'] ?? '');
    $iso = isset(HNS_LANGUAGES[$read_as]) ? HNS_LANGUAGES[$read_as][0] : 'hi';
    $values = array(
        'source_lang' => isset(HNS_LANGUAGES[$read_as]) ? $read_as : '',
        'summary_native' => sanitize_textarea_field((string) ($result['summary'][$iso] ?? '')),
        'summary_hi' => sanitize_textarea_field((string) ($result['summary']['hi'] ?? '')),
        'summary_en' => sanitize_textarea_field((string) ($result['summary']['en'] ?? '')),
        'translation_en' => sanitize_textarea_field((string) ($result['translation']['en'] ?? '')),
        'translation_html_en' => wp_kses_post((string) ($result['translation']['html'] ?? '')),
    );
    $review = ($result['meta']['review'] ?? '') === 'ok' ? 'ok' : 'needs_review'; // no verdict: an editor reads it
    update_post_meta($post_id, '_hns_review', $review);
    update_post_meta($post_id, '_hns_checks', wp_slash(hns_clean_findings($result['meta']['checks'] ?? array())));
    delete_post_meta($post_id, '_hns_accepted_by');
    if ($review === 'needs_review' && hns_settings()['hold']) {
        update_post_meta($post_id, '_hns_held', wp_slash($values)); // the post's meta keeps what was accepted before
        update_post_meta($post_id, '_hns_state', 'held');
    } else {
        hns_store_values($post_id, $values);
        delete_post_meta($post_id, '_hns_held');
        update_post_meta($post_id, '_hns_state', 'done');
    }
    delete_post_meta($post_id, '_hns_error');
    return new WP_REST_Response(array('stored' => true), 200);
}
