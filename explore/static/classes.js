// The Classes view: one optimised image per class of the model (its score before
// any softmax maximised), computed in the background, shown as they come.
import {View, api, el, linkFor, note, picture, sleep, writeLink} from './common.js';

const POLL_MS = 500;
const PAGE = 24;

export class ClassesView extends View {
  constructor(root, info, link) {
    super(root, info, link);
    this.stopped = false;
  }

  start() {
    const settings = this.info.visualization;
    this.what = `${settings.method}, ${settings.steps} steps, seed ${settings.seed}`;
    this.status = el('p', {class: 'note', id: 'classes-status'});
    this.grid = el('div', {class: 'row', id: 'class-visualizations'});
    const state = {run: this.info.run, view: 'classes'};
    writeLink(state);
    this.root.append(el('a', {id: 'classes-permalink', target: '_top', href: linkFor(state)}, 'permanent link'),
                     el('h3', {}, `One optimised image per class (${this.info.num_classes} classes; ${this.what})`),
                     this.status, this.grid);
    this.load();
  }

  stop() {
    this.stopped = true;
  }

  // Pages of PAGE classes; each poll asks only for the classes not shown yet
  // (they come in order), so a page's pictures are sent once.
  async load(start = 0) {
    const end = Math.min(this.info.num_classes, start + PAGE);
    let next = start;
    const bar = el('progress', {id: 'classes-progress', max: 1});
    try {
      for (;;) {
        const found = await api('class_visualizations', {run: this.info.run, offset: next, count: end - next});
        if (this.stopped || !this.root.contains(this.grid)) return;
        for (const entry of found.entries) {
          if (entry.index !== next) break;   // shown in order
          next += 1;
          const title = `class ${entry.index} (${entry.label}): its score reaches ${entry.value}`;
          this.grid.append(el('figure', {class: 'class-fv'},
                              el('div', {class: 'row'}, picture(entry.image, title, 'fv'),
                                 entry.faded ? picture(entry.faded, `${title}; faded by its transparency`, 'fv faded')
                                   : []),
                              el('figcaption', {}, `${entry.index}: ${entry.label} (score ${entry.value})`)));
        }
        if (next >= end) {
          const more = end < this.info.num_classes
            ? el('button', {id: 'more-classes', onclick: (event) => { event.target.remove(); this.load(end); }},
                 `classes ${end}..${Math.min(this.info.num_classes, end + PAGE) - 1}`) : [];
          this.status.replaceChildren(`Each image maximises its class's score before any softmax (${this.what}); `
            + 'right of each: faded where the score did not care (transparency, MaCo). ', more);
          return;
        }
        const [done, total] = found.chunks;
        bar.max = total;
        if (done) bar.value = done;
        this.status.replaceChildren(`Optimising ${found.classes} class images (${this.info.visualization.chunk} `
                                    + 'at a time; once, stored in the run folder): '
                                    + `${done} of ${total} batches done `, bar);
        await sleep(POLL_MS);
      }
    } catch (error) {
      if (!this.stopped) this.status.replaceChildren(note(error.message, 'error'));
    }
  }
}
