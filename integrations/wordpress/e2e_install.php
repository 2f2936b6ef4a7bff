<?php
// Installs the throwaway site for e2e_setup.sh; prints the id of a Hindi post to summarize.
$_SERVER['HTTP_HOST'] = '127.0.0.1';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';

wp_install('Newsroom e2e', 'editor-admin', 'admin@example.com', false, '', 'admin-pass-e2e');
$author = wp_create_user('writer', 'writer-pass-e2e', 'writer@example.com');
(new WP_User($author))->set_role('author');
$result = activate_plugin('hindi-news-summarizer/hindi-news-summarizer.php');
if (is_wp_error($result)) {
    fwrite(STDERR, $result->get_error_message() . "\n");
    exit(1);
}
update_option('hns_settings', array('url' => getenv('HNS_URL'), 'api_key' => (string) getenv('HNS_KEY'),
                                    'webhook_secret' => (string) getenv('HNS_SECRET'), 'timeout' => 120));
$admin = get_user_by('login', 'editor-admin');
$post_id = wp_insert_post(array(
    'post_title' => 'बीजेपी की बैठक',
    'post_content' => "<!-- wp:paragraph --><p>बीजेपी ने लोकसभा चुनाव 2024 की तैयारी तेज कर दी है.</p><!-- /wp:paragraph -->\n"
        . "<!-- wp:paragraph --><p>जबलपुर में कार्यकर्ताओं की बैठक हुई.</p><!-- /wp:paragraph -->",
    'post_status' => 'draft',
    'post_author' => $admin->ID,
));
wp_insert_post(array('post_title' => 'writer draft', 'post_content' => '<p>लेखक का मसौदा.</p>', 'post_author' => $author));
echo $post_id . "\n";
