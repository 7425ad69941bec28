// Topics and subscriptions, and access keys.

import { h, mount, errorBox, field, clear } from './dom.js';
import { sns, admin, paginate, session } from './api.js';

export async function topics() {
  mount(h('h1', {}, 'Topics'), h('p', { class: 'muted' }, 'Loading…'));
  const list = await paginate(sns, 'ListTopics', {}, 'Topics', 20);
  const subs = await Promise.all(list.map((t) => paginate(sns, 'ListSubscriptionsByTopic', { TopicArn: t.TopicArn }, 'Subscriptions', 10).catch(() => [])));
  // Per topic: its attributes (type, policy), data protection policy and tags; a failure leaves that part out.
  const details = await Promise.all(list.map(async (t) => {
    const [attrs, dpp, tags] = await Promise.all([
      sns('GetTopicAttributes', { TopicArn: t.TopicArn }).then((r) => r.Attributes || {}).catch(() => ({})),
      sns('GetDataProtectionPolicy', { ResourceArn: t.TopicArn }).then((r) => r.DataProtectionPolicy || '').catch(() => ''),
      sns('ListTagsForResource', { ResourceArn: t.TopicArn }).then((r) => r.Tags || []).catch(() => []),
    ]);
    return { attrs, dpp, tags };
  }));
  const again = () => topics();
  const name = field('Topic name', h('input', { id: 'topic-name' }));
  const createForm = h('form', { class: 'inline', onsubmit: async (e) => {
    e.preventDefault();
    try { await sns('CreateTopic', { Name: name.input.value.trim() }); again(); } catch (err) { name.error(err.message); }
  } }, name.wrap, h('button', { type: 'submit', class: 'primary' }, 'Create topic'));
  const section = (t, ss, d) => {
    const proto = h('select', { 'aria-label': 'Protocol' }, ['email', 'email-json', 'https', 'http', 'sms'].map((p) => h('option', { value: p }, p)));
    const ep = field('Endpoint', h('input', { placeholder: 'address or URL' }));
    const msg = h('div', { 'aria-live': 'polite' });
    const tname = t.TopicArn.split(':').pop();
    return h('section', { class: 'topic', 'data-topic': tname },
      h('h2', {}, tname, ' ', h('button', { type: 'button', class: 'danger small', onclick: async () => {
        if (!confirm(`Delete topic ${tname} and its subscriptions?`)) return;
        try { await sns('DeleteTopic', { TopicArn: t.TopicArn }); again(); } catch (err) { msg.appendChild(errorBox(err)); }
      } }, 'Delete topic')),
      h('p', { class: 'muted' }, t.TopicArn),
      topicFacts(d),
      ss.length ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Protocol'), h('th', {}, 'Endpoint'), h('th', {}, 'Status'), h('th', {}, ''))),
        h('tbody', {}, ss.map((s) => {
          const pending = !s.SubscriptionArn.startsWith('arn:');
          return h('tr', { 'data-endpoint': s.Endpoint }, h('td', {}, s.Protocol), h('td', {}, s.Endpoint),
            h('td', { class: pending ? 'pending' : 'confirmed' }, pending ? 'pending confirmation' : 'confirmed'),
            h('td', {}, pending
              ? h('button', { type: 'button', class: 'small', onclick: async () => { try { await sns('Subscribe', { TopicArn: t.TopicArn, Protocol: s.Protocol, Endpoint: s.Endpoint }); msg.replaceChildren(h('p', {}, 'Confirmation sent again.')); } catch (err) { msg.appendChild(errorBox(err)); } } }, 'Resend confirmation')
              : h('button', { type: 'button', class: 'small', onclick: async () => { try { await sns('Unsubscribe', { SubscriptionArn: s.SubscriptionArn }); again(); } catch (err) { msg.appendChild(errorBox(err)); } } }, 'Unsubscribe')));
        }))) : h('p', { class: 'empty' }, 'No subscriptions.'),
      h('form', { class: 'inline', onsubmit: async (e) => {
        e.preventDefault();
        try { await sns('Subscribe', { TopicArn: t.TopicArn, Protocol: proto.value, Endpoint: ep.input.value.trim() }); again(); } catch (err) { ep.error(err.message); }
      } }, proto, ep.wrap, h('button', { type: 'submit' }, 'Subscribe')),
      msg);
  };
  mount(h('h1', {}, 'Topics'), createForm,
    list.length ? list.map((t, i) => section(t, subs[i], details[i])) : h('p', { class: 'empty' }, 'No topics yet. Create one here or in the create-alarm flow.'));
}

/// Pretty JSON of a policy document (the text as is when it is not JSON).
function pretty(doc) {
  try { return JSON.stringify(JSON.parse(doc), null, 2); } catch { return doc; }
}

/// A topic's type, tags, access policy and data protection policy (read-only, as text).
function topicFacts(d) {
  const fifo = d.attrs.FifoTopic === 'true';
  const type = fifo ? `FIFO${d.attrs.ContentBasedDeduplication === 'true' ? ', content-based deduplication' : ''}` : 'Standard';
  return h('div', { class: 'topic-facts' },
    h('dl', { class: 'kv' }, h('dt', {}, 'Type'), h('dd', { class: 'topic-type' }, type),
      d.tags.length ? [h('dt', {}, 'Tags'), h('dd', { class: 'topic-tags' }, d.tags.map((x) => `${x.Key}=${x.Value}`).join(', '))] : null),
    d.attrs.Policy ? h('details', { class: 'topic-policy' }, h('summary', {}, 'Access policy'), h('pre', { class: 'cli' }, pretty(d.attrs.Policy))) : null,
    d.dpp ? h('details', { class: 'topic-dpp' }, h('summary', {}, 'Data protection policy'), h('pre', { class: 'cli' }, pretty(d.dpp))) : null);
}

export async function keys() {
  mount(h('h1', {}, 'Access keys'), h('p', { class: 'muted' }, 'Loading…'));
  let list = [];
  let listErr = null;
  try { list = (await admin('ListKeys', {})).Keys || []; } catch (e) { listErr = e; }
  const name = field('Name', h('input', { id: 'key-name', placeholder: 'e.g. web-1' }));
  const policy = field('Policy', h('select', { id: 'key-policy' }, ['agent', 'readonly', 'admin'].map((p) => h('option', { value: p }, p))), 'agent: may only publish metrics (like CloudWatchAgentServerPolicy).');
  // Each new key's secret stays on screen (one panel per key, newest first) until dismissed.
  const created = h('div', { id: 'key-created' });
  name.input.addEventListener('input', () => name.error(''));
  const form = h('form', { class: 'inline', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const wanted = name.input.value.trim();
    if (!wanted) { name.error('Give the key a name.'); return; }
    // The server refuses a taken name too (409); saying so here saves a round trip.
    if (list.some((k) => k.Name === wanted)) { name.error(`An access key named ${wanted} already exists. Choose another name.`); return; }
    try {
      const k = await admin('CreateKey', { Name: wanted, Policy: policy.input.value });
      name.error('');
      name.input.value = '';
      const ep = session?.PublicUrl || location.origin;
      const creds = `[AmazonCloudWatchAgent]\naws_access_key_id = ${k.AccessKeyId}\naws_secret_access_key = ${k.SecretAccessKey}\n`;
      const cfg = JSON.stringify({ agent: { metrics_collection_interval: 60, logfile: '/var/log/stratus/agent.log' },
        metrics: { endpoint_override: ep, append_dimensions: { InstanceId: '${aws:InstanceId}' },
          metrics_collected: { disk: { measurement: ['used_percent'], resources: ['/'] }, mem: { measurement: ['mem_used_percent'] } } } }, null, 2);
      // The newest panel carries the ids the page is read by; older ones keep their secrets shown.
      for (const el of created.querySelectorAll('[id]')) el.removeAttribute('id');
      const panel = h('section', { class: 'secret-once', 'data-key': k.AccessKeyId, 'aria-label': `New key ${k.Name}` },
        h('button', { type: 'button', class: 'small dismiss', onclick: () => { panel.remove(); name.input.focus(); } }, 'Dismiss'),
        h('h2', {}, `Key ${k.Name} created`),
        h('p', { class: 'warning' }, 'The secret is shown only now. Copy it to the host, then dismiss this.'),
        h('dl', { class: 'kv' }, h('dt', {}, 'Access key id'), h('dd', {}, h('code', { id: 'new-key-id' }, k.AccessKeyId)), h('dt', {}, 'Secret access key'), h('dd', {}, h('code', { id: 'new-key-secret' }, k.SecretAccessKey))),
        h('h3', {}, '1. Install the agent on the host'),
        h('pre', { class: 'cli' }, 'sudo apt install ./stratus_0.1.0-1_amd64.deb     # or: the stratus-agent binary + packaging/stratus-agent.service (see README)'),
        h('h3', {}, '2. /etc/stratus/credentials (mode 0600)'), h('pre', { class: 'cli', id: 'agent-credentials' }, creds),
        h('h3', {}, '3. /etc/stratus/amazon-cloudwatch-agent.json'), h('pre', { class: 'cli', id: 'agent-config' }, cfg),
        h('h3', {}, '4. Check and start it'),
        h('pre', { class: 'cli' }, 'stratus-agent --check-config /etc/stratus/amazon-cloudwatch-agent.json\nsudo systemctl enable --now stratus-agent\nsudo tail -f /var/log/stratus/agent.log'));
      created.prepend(panel);
      keys_refresh();
    } catch (err) { name.error(err.message); }
  } }, name.wrap, policy.wrap, h('button', { type: 'submit', class: 'primary' }, 'Create key'));
  const tbody = h('tbody');
  const keys_refresh = async () => {
    try { list = (await admin('ListKeys', {})).Keys || []; } catch (e) { listErr = e; }
    renderRows();
  };
  const renderRows = () => {
    clear(tbody);
    for (const k of list) {
      tbody.appendChild(h('tr', {}, h('td', {}, h('code', {}, k.AccessKeyId)), h('td', {}, k.Name), h('td', {}, k.Policy), h('td', {}, k.Created),
        h('td', {}, k.AccessKeyId === session?.AccessKeyId ? h('span', { class: 'muted' }, 'this session') : h('button', { type: 'button', class: 'danger small', onclick: async () => {
          if (!confirm(`Delete key ${k.AccessKeyId} (${k.Name})? Agents using it stop being able to publish.`)) return;
          try { await admin('DeleteKey', { AccessKeyId: k.AccessKeyId }); keys_refresh(); } catch (err) { alert(err.message); }
        } }, 'Delete'))));
    }
  };
  mount(h('h1', {}, 'Access keys'), listErr ? errorBox(listErr) : null, form, created,
    h('div', { class: 'table-wrap' }, h('table', { id: 'keys-table' }, h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'Name'), h('th', {}, 'Policy'), h('th', {}, 'Created'), h('th', {}, ''))), tbody)));
  renderRows();
}
