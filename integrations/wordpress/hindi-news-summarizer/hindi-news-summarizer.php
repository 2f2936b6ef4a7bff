<?php
/**
 * Plugin Name: Hindi News Summarizer
 * Description: "Summarize & translate" for Hindi posts: English translation and Hindi + English summaries from the newsroom's summarization service, stored as post meta.
 * Version: 0.1.0
 * Requires PHP: 7.4
 * License: MIT
 */

if (!defined('ABSPATH')) {
    exit;
}

const HNS_OPTION = 'hns_settings';
const HNS_META = array('summary_hi', 'summary_en', 'translation_en');

/** Settings with defaults. The API key stays on the server: it is never printed into a page. */
function hns_settings() {
    $saved = get_option(HNS_OPTION, array());
    return wp_parse_args(is_array($saved) ? $saved : array(), array('url' => '', 'api_key' => '', 'timeout' => 120));
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
    $key = isset($input['api_key']) ? trim((string) $input['api_key']) : '';
    return array(
        'url' => esc_url_raw(trim((string) ($input['url'] ?? ''))),
        // An empty key field keeps the stored key (the page never shows it); "-" clears it.
        'api_key' => $key === '' ? $current['api_key'] : ($key === '-' ? '' : sanitize_text_field($key)),
        'timeout' => max(5, min(600, (int) ($input['timeout'] ?? 120))),
    );
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
          <tr><th scope="row"><label for="hns-timeout">Timeout (seconds)</label></th>
              <td><input id="hns-timeout" type="number" min="5" max="600" name="<?php echo esc_attr(HNS_OPTION); ?>[timeout]"
                         value="<?php echo esc_attr($s['timeout']); ?>"></td></tr>
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
    echo '<p><button type="button" class="button button-primary" id="hns-run">Summarize &amp; translate</button> ';
    echo '<span id="hns-status" role="status"></span></p><div id="hns-error" class="notice notice-error inline" hidden></div>';
    foreach (array('summary_hi' => 'Hindi summary', 'summary_en' => 'English summary', 'translation_en' => 'English translation') as $key => $label) {
        $value = get_post_meta($post->ID, $key, true);
        echo '<p><strong>' . esc_html($label) . '</strong></p><div id="hns-' . esc_attr($key) . '" style="white-space:pre-wrap">' . esc_html($value) . '</div>';
    }
    echo '</div>';
}

add_action('admin_enqueue_scripts', function ($hook) {
    if ($hook !== 'post.php' && $hook !== 'post-new.php') {
        return;
    }
    wp_enqueue_script('hns-editor', plugins_url('editor.js', __FILE__), array(), '0.1.0', true);
    wp_localize_script('hns-editor', 'hnsConfig', array('ajaxUrl' => admin_url('admin-ajax.php')));
});

// --- the action: server side, nonce- and capability-checked ------------------------------------------------------
add_action('wp_ajax_hns_summarize', 'hns_ajax_summarize');

/** The post's text as plain paragraphs: block markup and tags removed, paragraph breaks kept. */
function hns_post_text($post) {
    $html = preg_replace('#</p>|<br\s*/?>#i', "\n", (string) $post->post_content);
    $text = html_entity_decode(wp_strip_all_tags($html, false), ENT_QUOTES, 'UTF-8');
    return trim(preg_replace("/\n{2,}/", "\n", $text));
}

/** Call the service; returns the decoded result or a WP_Error whose message an editor can act on. */
function hns_call_service($text, $article_id) {
    $s = hns_settings();
    if (!$s['url']) {
        return new WP_Error('hns_not_configured', 'The summarization service URL is not set (Settings → Hindi News Summarizer).');
    }
    $headers = array('Content-Type' => 'application/json');
    if ($s['api_key']) {
        $headers['X-API-Key'] = $s['api_key'];
    }
    $response = wp_remote_post(rtrim($s['url'], '/') . '/summarize', array(
        'headers' => $headers,
        'timeout' => (int) $s['timeout'],
        'body' => wp_json_encode(array('id' => (string) $article_id, 'text' => $text)),
    ));
    if (is_wp_error($response)) {
        $message = $response->get_error_message();
        if (stripos($message, 'timed out') !== false) {
            return new WP_Error('hns_timeout', 'The service did not answer within ' . $s['timeout'] . ' seconds. Try again, or raise the timeout.');
        }
        return new WP_Error('hns_unreachable', 'The service could not be reached: ' . $message);
    }
    $status = (int) wp_remote_retrieve_response_code($response);
    $body = json_decode(wp_remote_retrieve_body($response), true);
    if ($status !== 200) {
        $detail = isset($body['error']['message']) ? $body['error']['message'] : 'HTTP ' . $status;
        $hints = array(401 => 'The service needs an API key (settings).', 403 => 'The API key was not accepted (settings).',
                       429 => 'The service is busy; try again shortly.', 503 => 'The service is starting or restarting; try again in a minute.');
        return new WP_Error('hns_http_' . $status, trim(($hints[$status] ?? 'The service refused the article.') . ' ' . $detail));
    }
    return $body;
}

function hns_ajax_summarize() {
    $post_id = isset($_POST['post_id']) ? absint($_POST['post_id']) : 0;
    // The nonce proves the request comes from this user's editor page; the capability check decides per post.
    if (!$post_id || !check_ajax_referer('hns_summarize', 'nonce', false)) {
        wp_send_json_error(array('message' => 'This page has expired; reload it and try again.'), 403);
    }
    if (!current_user_can('edit_post', $post_id)) {
        wp_send_json_error(array('message' => 'You are not allowed to edit this post.'), 403);
    }
    $post = get_post($post_id);
    $text = $post ? hns_post_text($post) : '';
    if ($text === '') {
        wp_send_json_error(array('message' => 'The post has no text to summarize yet. Save it first.'), 422);
    }
    $result = hns_call_service($text, $post_id);
    if (is_wp_error($result)) {
        wp_send_json_error(array('message' => $result->get_error_message()), 502);
    }
    $values = array(
        'summary_hi' => (string) ($result['summary']['hi'] ?? ''),
        'summary_en' => (string) ($result['summary']['en'] ?? ''),
        'translation_en' => (string) ($result['translation']['en'] ?? ''),
    );
    foreach ($values as $key => $value) {
        update_post_meta($post_id, $key, wp_slash($value));
    }
    wp_send_json_success($values);
}
